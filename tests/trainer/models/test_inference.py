"""The teacher's inference with each distinct question encoded once."""
import numpy as np
import pytest

from trainer.data import input_pipeline
from trainer.models import inference
from trainer.models import model_io

IDS = input_pipeline.INPUT_IDS
MASK = input_pipeline.ATTENTION_MASK


@pytest.fixture(scope='module')
def loaded_teacher(tiny_teacher):
  return model_io.load_model(tiny_teacher)


def _val_inputs(tiny_records, size=12):
  spec = input_pipeline.read_data_spec(tiny_records)
  dataset = input_pipeline.make_dataset(spec, 'val2014', size, training=False,
                                        deterministic=True, for_keras=False)
  inputs, _ = input_pipeline.to_model_inputs(next(iter(dataset)))
  return {name: np.asarray(value) for name, value in inputs.items()}


def _with_repeats(inputs):
  """The batch, then its first four questions again with other images."""
  repeated = {name: np.concatenate([value, value[:4]])
              for name, value in inputs.items()}
  repeated[input_pipeline.IMAGE][-4:] = inputs[input_pipeline.IMAGE][-4:]
  return repeated


def _distinct_questions(inputs):
  return len(np.unique(np.concatenate([inputs[IDS], inputs[MASK]], axis=1),
                       axis=0))


def test_a_loaded_teacher_keeps_its_layers_and_a_student_has_none(
    loaded_teacher, tiny_student):
  assert loaded_teacher.layers is not None
  assert model_io.load_model(tiny_student).layers is None
  student_logits = inference.loaded_logits(model_io.load_model(tiny_student))
  assert not isinstance(student_logits, inference.QuestionMemoLogits)


def test_memo_gives_the_full_models_logits(loaded_teacher, tiny_records):
  inputs = _with_repeats(_val_inputs(tiny_records))
  whole = inference.traced(loaded_teacher.model)(inputs)
  memo = inference.loaded_logits(loaded_teacher)
  np.testing.assert_allclose(memo(inputs), whole, rtol=1e-4, atol=1e-5)
  # A repeated question with another image gets that image's answer.
  np.testing.assert_allclose(memo(inputs)[-4:], whole[-4:], rtol=1e-4,
                             atol=1e-5)


def test_each_distinct_question_is_encoded_once(loaded_teacher, tiny_records):
  inputs = _with_repeats(_val_inputs(tiny_records))
  memo = inference.loaded_logits(loaded_teacher)
  memo(inputs)
  distinct = _distinct_questions(inputs)
  assert distinct < len(inputs[IDS])
  assert memo.encoded_questions == distinct
  memo(inputs)  # all known now
  assert memo.encoded_questions == distinct


def test_the_same_ids_with_another_mask_are_another_question(loaded_teacher,
                                                             tiny_records):
  inputs = _val_inputs(tiny_records, size=2)
  other = {name: value.copy() for name, value in inputs.items()}
  other[MASK][0, -1] = 1 - other[MASK][0, -1]
  memo = inference.loaded_logits(loaded_teacher)
  memo(inputs)
  before = memo.encoded_questions
  np.testing.assert_allclose(
      memo(other), inference.traced(loaded_teacher.model)(other), rtol=1e-4,
      atol=1e-5)
  assert memo.encoded_questions == before + 1


def test_a_full_memo_starts_again_and_stays_right(loaded_teacher,
                                                  tiny_records):
  inputs = _val_inputs(tiny_records)
  distinct = _distinct_questions(inputs)
  memo = inference.QuestionMemoLogits(loaded_teacher.layers,
                                      loaded_teacher.max_question_tokens,
                                      limit=distinct)
  memo(inputs)
  half = {name: value[:len(value) // 2] for name, value in inputs.items()}
  shifted = {name: np.roll(value, 1, axis=0) for name, value in half.items()}
  shifted[IDS][0, 1] = (shifted[IDS][0, 1] + 1) % 50  # a new question
  np.testing.assert_allclose(
      memo(shifted), inference.traced(loaded_teacher.model)(shifted),
      rtol=1e-4, atol=1e-5)
  assert len(memo._memo) <= distinct  # pylint: disable=protected-access
