"""The distillation student: a small Functional model on the teacher's inputs.

Same inputs as the teacher (`input_ids`, `attention_mask`, `image` uint8) and
the same fusion (project both modalities, multiply, MLP head over the K
answers), so it evaluates, exports and serves exactly like the teacher:

  text   full WordPiece ids -> compact ids (TokenRemap, with the default
         compact vocabulary) -> token embedding -> 1-D convolutions (or a
         BiLSTM) -> masked max pool
  image  a few 3x3 convolutions with batch norm, a 2x2 max pooling before
         each but the first (or stride-2 convolutions, --image-downsampling
         stride), one more for each halving that keeps the map at least
         12x12 -> global average pool

Every op converts to TFLite builtins, including full-integer quantisation
(the convolutional text encoder; the LSTM needs TFLite's Select TF ops).
"""

import numpy as np
import tensorflow as tf

from trainer.data import input_pipeline
from trainer.models import multimodal
from trainer.models.model_config import StudentConfig  # pylint: disable=unused-import

keras = tf.keras


class MaskedMaxPooling(keras.layers.Layer):
  """Max over the tokens where attention_mask is 1 (features are >= 0)."""

  def call(self, sequence, mask):
    mask = tf.cast(mask, sequence.dtype)[..., tf.newaxis]
    return tf.reduce_max(sequence * mask, axis=1)


class TokenRemap(keras.layers.Layer):
  """Full WordPiece ids -> compact ids, [UNK]'s for a wordpiece not kept.

  A constant table gathered in the graph (a TFLite builtin Gather), so the
  SavedModel and the .tflite take the records' ids unchanged; it is no
  weight, so it neither trains nor counts as a parameter. Held as int16 when
  the compact ids fit (2 bytes per full id: 61 KB for BERT's 30,522).
  """

  def __init__(self, table, vocabulary=None, **kwargs):
    super().__init__(**kwargs)
    table = np.asarray(table)
    fits = table.size and table.max() <= np.iinfo(np.int16).max
    self.table = table.astype(np.int16 if fits else np.int32)
    # The CompactVocabulary it came from, which model_io saves beside the
    # weights (None for a layer rebuilt from its config alone).
    self.vocabulary = vocabulary

  def call(self, input_ids):
    return tf.cast(tf.gather(tf.constant(self.table), input_ids), tf.int32)

  def get_config(self):
    return dict(super().get_config(), table=self.table.tolist())


def compact_vocabulary_of(model):
  """The CompactVocabulary of a student's TokenRemap, None without one."""
  for layer in model.layers:
    if isinstance(layer, TokenRemap):
      return layer.vocabulary
  return None


def _text_branch(config, input_ids, attention_mask, vocab_size, vocabulary):
  if vocabulary is not None:
    input_ids = TokenRemap(vocabulary.remap_table(), vocabulary,
                           name='token_remap')(input_ids)
    vocab_size = vocabulary.size
  embedded = keras.layers.Embedding(vocab_size, config.embedding_dim,
                                    name='token_embedding')(input_ids)
  if config.text_layer == 'lstm':
    sequence = keras.layers.Bidirectional(
        keras.layers.LSTM(config.text_width // 2, return_sequences=True),
        name='text_bilstm')(embedded, mask=tf.cast(attention_mask, tf.bool))
    sequence = keras.layers.ReLU(name='text_relu')(sequence)
  else:
    sequence = embedded
    for index in range(2):
      sequence = keras.layers.Conv1D(
          config.text_width, config.text_kernel_size, padding='same',
          activation='relu', name=f'text_conv_{index}')(sequence)
  return MaskedMaxPooling(name='text_max_pooling')(sequence, attention_mask)


def _image_branch(config, image, image_size):
  x = keras.layers.Rescaling(1 / 127.5, offset=-1.0,
                             name='image_scaling')(tf.cast(image, tf.float32))
  pools = config.image_downsampling == 'max-pool'
  for index, filters in enumerate(config.image_convolutions(image_size)):
    halves = index > 0
    if halves and pools:
      x = keras.layers.MaxPooling2D(2, padding='same',
                                    name=f'image_pool_{index}')(x)
    stride = 2 if halves and not pools else 1
    x = keras.layers.Conv2D(filters, 3, strides=stride, padding='same',
                            use_bias=False, name=f'image_conv_{index}')(x)
    x = keras.layers.BatchNormalization(momentum=0.9,
                                        name=f'image_bn_{index}')(x)
    x = keras.layers.ReLU(name=f'image_relu_{index}')(x)
  return keras.layers.GlobalAveragePooling2D(name='image_pooling')(x)


def build_student(config, vocab_size, num_answers, max_question_tokens,
                  image_size, vocabulary=None):
  """The Functional student: raw token ids and image pixels in, logits out.

  Args:
    config: StudentConfig.
    vocab_size: the full WordPiece vocabulary's size (the records' ids).
    num_answers: K.
    max_question_tokens: L.
    image_size: the records' image side.
    vocabulary: the CompactVocabulary to embed, needed when
      config.vocabulary is 'compact' (compact_vocabulary.py builds it).
  """
  config.check()
  if (config.vocabulary == 'compact') != (vocabulary is not None):
    raise ValueError(f'a student with the {config.vocabulary} vocabulary '
                     f'was given {"a" if vocabulary else "no"} '
                     'CompactVocabulary')
  inputs = multimodal.model_inputs(max_question_tokens, image_size)
  text = _text_branch(config, inputs[input_pipeline.INPUT_IDS],
                      inputs[input_pipeline.ATTENTION_MASK], vocab_size,
                      vocabulary)
  image = _image_branch(config, inputs[input_pipeline.IMAGE], image_size)
  text = keras.layers.Dense(config.fusion_width, activation='tanh',
                            name='text_projection')(text)
  image = keras.layers.Dense(config.fusion_width, activation='tanh',
                             name='image_projection')(image)
  text = keras.layers.Dropout(config.dropout, name='text_dropout')(text)
  image = keras.layers.Dropout(config.dropout, name='image_dropout')(image)
  fused = keras.layers.Multiply(name='fusion')([text, image])
  hidden = keras.layers.Dense(config.hidden_width, activation='relu',
                              name='head_hidden')(fused)
  hidden = keras.layers.Dropout(config.dropout, name='head_dropout')(hidden)
  logits = keras.layers.Dense(num_answers, name='answer_logits',
                              dtype='float32')(hidden)
  return keras.Model(inputs, logits, name='vqa_student')
