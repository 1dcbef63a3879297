"""The pure-Python Example encoder against TensorFlow's own."""
import numpy as np
import pytest
import tensorflow as tf

from trainer import contract
from trainer import example_proto


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
      contract.IMAGE_ID: 581929,
      contract.IMAGE_ENCODED: bytes(rng.integers(0, 256, 5000, np.uint8)),
      contract.QUESTION_ID: 581929004,
      contract.QUESTION_TEXT: 'What colour is the café’s sign?',
      contract.QUESTION_INPUT_IDS: [101, 2054, 3609, 102] + [0] * 4,
      contract.QUESTION_ATTENTION_MASK: [1] * 4 + [0] * 4,
      contract.QUESTION_TYPE: 'what color is the',
      contract.ANSWER_TYPE: 'other',
      contract.ANSWER_LABEL: -1,
      contract.ANSWER_SCORES: [0.0, 0.3, 0.6, 1.0],
      contract.ANSWER_HUMAN: ['red'] * 7 + ['dark red'],
  }


def test_a_contract_record_round_trips_through_the_parser():
  record = valid_record()
  parsed = contract.parse_examples(
      tf.constant(contract.make_example(record, 8, 4)), 8, 4)
  assert parsed[contract.IMAGE_ENCODED].numpy() == record[
      contract.IMAGE_ENCODED]
  assert parsed[contract.QUESTION_TEXT].numpy().decode() == record[
      contract.QUESTION_TEXT]
  assert parsed[contract.ANSWER_LABEL].numpy() == -1
  assert parsed[contract.QUESTION_ID].numpy() == 581929004
  assert parsed[contract.QUESTION_INPUT_IDS].numpy().tolist() == record[
      contract.QUESTION_INPUT_IDS]
  np.testing.assert_allclose(parsed[contract.ANSWER_SCORES].numpy(),
                             record[contract.ANSWER_SCORES], rtol=1e-7)
  assert [h.decode() for h in parsed[contract.ANSWER_HUMAN].numpy()] == (
      record[contract.ANSWER_HUMAN] + ['', ''])


def test_wrong_lengths_are_refused():
  record = dict(valid_record())
  record[contract.QUESTION_INPUT_IDS] = [101, 102]
  with pytest.raises(ValueError, match='question/input_ids: expected 8'):
    contract.make_example(record, 8, 4)
