"""The pure-Python Example encoder against TensorFlow's own."""
import numpy as np
import pytest
import tensorflow as tf

from trainer.contract import record_spec
from trainer.contract import example_proto


def tf_feature(kind, values):
  if kind == 'int64':
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
  if kind == 'float':
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


OURS = {'int64': example_proto.int64_feature,
        'float': example_proto.float_feature,
        'bytes': example_proto.bytes_feature}


@pytest.mark.parametrize('kind, values', [
    ('int64', [0, 1, 127, 128, 300, -1, -(2 ** 63), 2 ** 63 - 1,
               1000001004]),
    ('int64', []),
    ('float', [0.0, 1.0, -2.5, 0.3333333, 1e-30, 3.4e38]),
    ('float', []),
    ('bytes', [b'', b'yes', 'café'.encode('utf-8'), bytes(range(256)) * 3]),
    ('bytes', []),
])
def test_each_feature_kind_parses_like_tensorflows(kind, values):
  ours = example_proto.serialize_example({'f': OURS[kind](values)})
  expected = tf.train.Example(features=tf.train.Features(
      feature={'f': tf_feature(kind, values)}))
  assert tf.train.Example.FromString(ours) == expected


def valid_record():
  rng = np.random.default_rng(0)
  return {
      record_spec.IMAGE_ID: 581929,
      record_spec.IMAGE_ENCODED: bytes(rng.integers(0, 256, 5000, np.uint8)),
      record_spec.QUESTION_ID: 581929004,
      record_spec.QUESTION_TEXT: 'What colour is the café’s sign?',
      record_spec.QUESTION_INPUT_IDS: [101, 2054, 3609, 102] + [0] * 4,
      record_spec.QUESTION_ATTENTION_MASK: [1] * 4 + [0] * 4,
      record_spec.QUESTION_TYPE: 'what color is the',
      record_spec.ANSWER_TYPE: 'other',
      record_spec.ANSWER_LABEL: -1,
      record_spec.ANSWER_SCORES: [0.0, 0.3, 0.6, 1.0],
      record_spec.ANSWER_HUMAN: ['red'] * 7 + ['dark red'],
  }


def test_a_contract_record_round_trips_through_the_parser():
  record = valid_record()
  parsed = record_spec.parse_examples(
      tf.constant(record_spec.make_example(record, 8, 4)), 8, 4)
  assert parsed[record_spec.IMAGE_ENCODED].numpy() == record[
      record_spec.IMAGE_ENCODED]
  assert parsed[record_spec.QUESTION_TEXT].numpy().decode() == record[
      record_spec.QUESTION_TEXT]
  assert parsed[record_spec.ANSWER_LABEL].numpy() == -1
  assert parsed[record_spec.QUESTION_ID].numpy() == 581929004
  assert parsed[record_spec.QUESTION_INPUT_IDS].numpy().tolist() == record[
      record_spec.QUESTION_INPUT_IDS]
  np.testing.assert_allclose(parsed[record_spec.ANSWER_SCORES].numpy(),
                             record[record_spec.ANSWER_SCORES], rtol=1e-7)
  assert [h.decode() for h in parsed[record_spec.ANSWER_HUMAN].numpy()] == (
      record[record_spec.ANSWER_HUMAN] + ['', ''])


def test_wrong_lengths_are_refused():
  record = dict(valid_record())
  record[record_spec.QUESTION_INPUT_IDS] = [101, 102]
  with pytest.raises(ValueError, match='question/input_ids: expected 8'):
    record_spec.make_example(record, 8, 4)
