"""Frozen-encoder outputs computed once and looked up during training.

A frozen BERT gives the same features for a question at every epoch, so
recomputing it at every step (as the seed study did) wastes most of the
training time. Here the pooled features are computed once per question (text)
or per image (a frozen image branch), kept in a matrix, and the tf.data
pipeline looks them up by id: shuffling, batching and distribution work as
before.
"""
import numpy as np
import tensorflow as tf

from trainer.data import input_pipeline
from trainer.models import multimodal


class FeatureTable:
  """id -> feature row, usable inside tf.data map functions."""

  def __init__(self, ids, features):
    ids = np.asarray(ids, dtype=np.int64)
    if len(np.unique(ids)) != len(ids):
      raise ValueError('feature table: duplicate ids')
    self.size = len(ids)
    self.rows = (ids, np.asarray(features, dtype=np.float32))  # for saving
    self._features = tf.constant(self.rows[1])
    self._table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(ids), tf.range(len(ids), dtype=tf.int64)),
        default_value=-1)

  def lookup(self, ids):
    rows = self._table.lookup(tf.cast(ids, tf.int64))
    tf.debugging.assert_non_negative(rows, 'id missing from feature cache')
    return tf.gather(self._features, rows)


def _unique_rows(id_batches, feature_batches):
  ids = np.concatenate(id_batches)
  features = np.concatenate(feature_batches)
  _, first = np.unique(ids, return_index=True)
  return ids[first], features[first]


def compute_features(features_of, spec, splits, batch_size, id_key,
                     encoder_input, decode_images):
  """FeatureTable of `features_of(encoder_input(batch))` over `splits`, by
  id (`features_of`: e.g. an inference.logits_function, numpy out)."""
  ids, features = [], []
  for split in splits:
    dataset = input_pipeline.make_dataset(
        spec, split, batch_size, training=False, deterministic=True,
        for_keras=False, decode_images=decode_images)
    for batch in dataset:
      ids.append(batch[id_key].numpy())
      features.append(np.asarray(features_of(encoder_input(batch))))
  return FeatureTable(*_unique_rows(ids, features))


def _split_columns(spec, splits, batch_size, names, decode_images=False):
  """{name: numpy array} of the `names` features over `splits`, in order."""
  columns = {name: [] for name in names}
  for split in splits:
    dataset = input_pipeline.make_dataset(
        spec, split, batch_size, training=False, deterministic=True,
        for_keras=False, decode_images=decode_images)
    for batch in dataset:
      for name in names:
        columns[name].append(batch[name].numpy())
  return {name: np.concatenate(values) for name, values in columns.items()}


def compute_text_features(layers, spec, splits, batch_size):
  """FeatureTable of pooled question features over `splits`, by question id.

  Questions with the same token ids (VQA repeats many question texts) are
  encoded once.
  """
  text_names = (input_pipeline.INPUT_IDS, input_pipeline.ATTENTION_MASK)
  columns = _split_columns(spec, splits, batch_size,
                           ('question_id',) + text_names)
  tokens = np.concatenate([columns[name] for name in text_names], axis=1)
  _, first, inverse = np.unique(tokens, axis=0, return_index=True,
                                return_inverse=True)
  encoder = tf.function(multimodal.text_encoder_model(layers,
                                                  spec.max_question_tokens))
  features = []
  for start in range(0, len(first), batch_size):
    rows = first[start:start + batch_size]
    features.append(encoder({name: columns[name][rows] for name in text_names},
                            training=False).numpy())
  features = np.concatenate(features)[inverse.reshape(-1)]
  return FeatureTable(*_unique_rows([columns['question_id']], [features]))


def compute_image_features(layers, spec, splits, batch_size):
  """FeatureTable of pooled image features over `splits`, by image id."""
  encoder = tf.function(multimodal.image_encoder_model(layers))
  return compute_features(
      lambda images: encoder(images, training=False).numpy(), spec, splits,
      batch_size, 'image_id', lambda batch: batch[input_pipeline.IMAGE],
      decode_images=True)


def with_cached_features(dataset, text_table=None, image_table=None):
  """Maps full feature dicts to the head model's (inputs, targets)."""

  def to_head_inputs(features):
    inputs, packed = input_pipeline.to_model_inputs(features)
    if text_table is not None:
      inputs = {k: v for k, v in inputs.items()
                if k not in (input_pipeline.INPUT_IDS,
                             input_pipeline.ATTENTION_MASK)}
      inputs[multimodal.TEXT_FEATURES] = text_table.lookup(features['question_id'])
    if image_table is not None:
      inputs.pop(input_pipeline.IMAGE, None)
      inputs[multimodal.IMAGE_FEATURES] = image_table.lookup(features['image_id'])
    return inputs, packed

  return dataset.map(to_head_inputs, num_parallel_calls=tf.data.AUTOTUNE)
