"""The teacher-logits side file: the teacher's answers, computed once per
training question and kept as gzip TFRecords next to the student."""
import os

import numpy as np
import tensorflow as tf

from trainer.contract import errors
from trainer.fit import feature_cache
from trainer.data import input_pipeline
from trainer.fit.distillation import TEACHER_LOGITS
from trainer.models import inference
from trainer.models import model_io

LOGITS_DIR = 'teacher_logits'
LOGITS_INFO = 'info.json'


def _logits_path(directory, split):
  return os.path.join(directory, f'{split}.tfrecord.gz')


def write_teacher_logits(path, question_ids, logits):
  """question id -> logits, one tf.train.Example per question, gzip."""
  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.TFRecordWriter(path, options='GZIP') as writer:
    for question_id, row in zip(question_ids, logits):
      example = tf.train.Example(features=tf.train.Features(feature={
          'question_id': tf.train.Feature(
              int64_list=tf.train.Int64List(value=[int(question_id)])),
          TEACHER_LOGITS: tf.train.Feature(
              float_list=tf.train.FloatList(value=row.tolist())),
      }))
      writer.write(example.SerializeToString())


def read_teacher_logits(path, num_answers):
  """(question ids, logits [N, K]) from a side file."""
  spec = {'question_id': tf.io.FixedLenFeature([], tf.int64),
          TEACHER_LOGITS: tf.io.FixedLenFeature([num_answers], tf.float32)}
  dataset = tf.data.TFRecordDataset(path, compression_type='GZIP').batch(
      4096).map(lambda records: tf.io.parse_example(records, spec))
  ids, logits = [], []
  try:
    for batch in dataset:
      ids.append(batch['question_id'].numpy())
      logits.append(batch[TEACHER_LOGITS].numpy())
  except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
    raise errors.UserError(f'{path}: unreadable teacher logits ({e.message}); '
                     'delete its folder to compute them again') from e
  if not ids:
    raise errors.UserError(f'{path}: no teacher logits in the file')
  return np.concatenate(ids), np.concatenate(logits)


def _location(path):
  """A local path made absolute (the same folder however it is written)."""
  return path if '://' in path else os.path.abspath(path)


def _side_file_info(config, spec):
  return {'teacher': _location(config.teacher),
          'data': _location(spec.data_dir),
          'splits': list(config.training_splits),
          'answers': list(spec.answers)}


def teacher_logits_table(config, spec, batch_size):
  """FeatureTable of the teacher's logits on the training splits.

  Read from the side file when one made by the same teacher on the same
  records and answers is there; otherwise computed and written to it.
  """
  directory = config.teacher_logits_dir or os.path.join(config.output,
                                                        LOGITS_DIR)
  path = _logits_path(directory, config.train_split)
  info_path = os.path.join(directory, LOGITS_INFO)
  info = _side_file_info(config, spec)
  reusable = (tf.io.gfile.exists(path) and tf.io.gfile.exists(info_path) and
              model_io.read_json(info_path) == info)
  if reusable:
    return feature_cache.FeatureTable(*read_teacher_logits(path,
                                                           spec.num_answers))
  teacher = model_io.load_model(config.teacher)
  table = feature_cache.compute_features(
      inference.loaded_logits(teacher), spec, config.training_splits,
      batch_size, 'question_id',
      lambda batch: input_pipeline.to_model_inputs(batch)[0],
      decode_images=teacher.uses_image)
  write_teacher_logits(path, *table.rows)
  model_io.write_json(info, info_path)
  return table


def with_teacher_logits(dataset, table):
  """Adds the teacher's logits to (inputs, targets) pairs by question id."""

  def add(features):
    inputs, packed = input_pipeline.to_model_inputs(features)
    inputs[TEACHER_LOGITS] = table.lookup(features['question_id'])
    return inputs, packed

  return dataset.map(add, num_parallel_calls=tf.data.AUTOTUNE)
