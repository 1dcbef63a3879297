"""One answer-vocabulary check, reached from every job that compares a model
with the records."""
import json
import types

import pytest

from trainer.contract import dataset_info
from trainer.data import input_pipeline
from trainer.fit import distill
from trainer.fit import prune
from trainer.measure import evaluate
from trainer.measure import measurements
from trainer.models import model_io
from trainer.measure import tflite_evaluation

DATA_ANSWERS = ('yes', 'no', '2')
OTHER_ANSWERS = ('no', 'yes', '2')


@pytest.fixture
def spec(tmp_path):
  return input_pipeline.DataSpec(
      data_dir=str(tmp_path / 'data'), answers=DATA_ANSWERS,
      max_question_tokens=8, image_size=32,
      metadata=dataset_info.DatasetMetadata(
          counts={'val2014': {'questions': 1, 'written': 1}}))


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
  """A MODEL_DIR whose config.json lists other answers; loading it gives a
  stand-in model with those answers."""
  folder = tmp_path / 'model'
  folder.mkdir()
  (folder / model_io.CONFIG_FILE).write_text(json.dumps({
      'answers': list(OTHER_ANSWERS), 'max_question_tokens': 8,
      'image_size': 32, 'model': {'image_size': 32}}))
  monkeypatch.setattr(model_io, 'load_model', lambda path: types.SimpleNamespace(
      answers=OTHER_ANSWERS, model_dir=path))
  return str(folder)


ENTRY_POINTS = {
    'distill': lambda path, spec: distill._check_teacher(
        types.SimpleNamespace(teacher=path), spec),
    'prune': lambda path, spec: prune._load_source(
        types.SimpleNamespace(model_dir=path), spec),
    'evaluate': lambda path, spec: evaluate.evaluate_model(
        path, spec, 'val2014', split_questions=object()),
    'report': lambda path, spec: measurements.check_answers(
        model_io.load_model(path).answers, spec, path),
    'export-tflite': lambda path, spec: tflite_evaluation._check_inputs(
        model_io.load_model(path), spec, 'val2014'),
}


@pytest.mark.parametrize('entry_point', sorted(ENTRY_POINTS))
def test_a_model_of_another_vocabulary_is_refused(entry_point, model_dir,
                                                  spec):
  with pytest.raises(ValueError, match='another answer vocabulary') as raised:
    ENTRY_POINTS[entry_point](model_dir, spec)
  assert model_dir in str(raised.value)
  assert spec.answers_path in str(raised.value)


def test_a_tflite_model_of_another_width_is_refused(spec):
  with pytest.raises(ValueError, match='answers over 4 answers but .*'
                     'answers.json lists 3'):
    model_io.check_same_answers(4, 'model.tflite', spec.answers,
                                spec.answers_path)


def test_the_same_vocabulary_passes(spec):
  model_io.check_same_answers(DATA_ANSWERS, 'model', spec.answers,
                              spec.answers_path)
  model_io.check_same_answers(3, 'model.tflite', spec.answers,
                              spec.answers_path)


def test_an_old_config_json_with_the_image_size_twice_still_loads(model_dir):
  saved = model_io.read_saved_config(model_dir)
  assert saved.image_size == 32 and saved.answers == OTHER_ANSWERS


def test_a_teacher_s_image_size_is_read_from_its_model_config(tmp_path):
  (tmp_path / model_io.CONFIG_FILE).write_text(json.dumps({
      'answers': ['yes'], 'max_question_tokens': 8,
      'model': {'image_size': 48}}))
  assert model_io.read_saved_config(str(tmp_path)).image_size == 48


def test_a_config_json_without_answers_is_named(tmp_path):
  (tmp_path / model_io.CONFIG_FILE).write_text(json.dumps({'model': {}}))
  with pytest.raises(ValueError, match=r"config.json: missing key 'answers'"):
    model_io.read_saved_config(str(tmp_path))
