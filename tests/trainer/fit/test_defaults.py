"""The defaults decided for the user (trainer/fit/defaults.py) and the
image-branch check (trainer/measure/image_check.py)."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.trainer.conftest import tiny_config
from trainer.app import cli
from trainer.fit import defaults
from trainer.measure import evaluate
from trainer.measure import image_check
from trainer.data import input_pipeline
from trainer.models import multimodal
from trainer.fit import train


@pytest.mark.parametrize('image_size, stride', [
    (224, 32), (192, 32), (96, 16), (64, 8), (48, 8), (32, 4), (16, 4)])
def test_over_pretrained_weights_the_stride_keeps_a_six_by_six_map(
    image_size, stride):
  assert defaults.auto_feature_stride(image_size) == stride
  if image_size >= 24:
    assert defaults.feature_map_size(image_size, stride) >= 6


@pytest.mark.parametrize('image_size, stride', [
    (224, 16), (192, 16), (96, 8), (64, 4), (48, 4), (32, 4), (16, 4)])
def test_from_scratch_the_stride_keeps_a_twelve_by_twelve_map(
    image_size, stride):
  assert defaults.auto_feature_stride(image_size, from_scratch=True) == stride
  if image_size >= 48:
    assert defaults.feature_map_size(image_size, stride) >= 12


@pytest.mark.parametrize('weights, stride, words', [
    ('none', 8, 'at least 12x12 (12x12)'),
    ('imagenet', 16, 'at least 6x6 (6x6)')])
def test_the_stride_choice_says_which_rule_chose_it(weights, stride, words):
  model = multimodal.ModelConfig(image_weights=weights, image_size=96)
  model, choices = defaults.resolve_image_choices(model)
  assert model.image_feature_stride == stride
  reason = {c.field: c for c in choices}['image_feature_stride'].reason
  assert words in reason and '96 px' in reason


def test_a_small_image_says_no_layer_keeps_the_map_wanted():
  model = multimodal.ModelConfig(image_weights='none', image_size=32)
  _, choices = defaults.resolve_image_choices(model)
  reason = {c.field: c for c in choices}['image_feature_stride'].reason
  assert 'shallowest' in reason and '8x8' in reason


def test_the_learning_rate_grows_with_the_square_root_of_the_batch():
  assert defaults.auto_learning_rate(32) == pytest.approx(2e-3)
  assert defaults.auto_learning_rate(128) == pytest.approx(4e-3)


def _resolved(tiny_records, **overrides):
  config = tiny_config(tiny_records, 'unused', **overrides)
  spec = input_pipeline.read_data_spec(tiny_records)
  return train.resolve_config(config, spec, global_batch=64)


def test_without_pretrained_weights_the_image_encoder_trains(tiny_records):
  config, choices = _resolved(tiny_records, image_trainable=None,
                              image_feature_stride=0, learning_rate=0.0,
                              cache_frozen_features=None)
  assert config.model.image_trainable is True
  assert config.model.image_feature_stride == 4  # 8x8 at 32 px
  assert config.learning_rate == pytest.approx(2e-3 * 2 ** 0.5)
  assert config.cache_frozen_features  # the text encoder is frozen
  assert {c.field for c in choices} == {
      'image_trainable', 'image_feature_stride', 'learning_rate',
      'cache_frozen_features'}
  assert 'no pretrained image weights' in defaults.format_choices(choices)


def test_over_pretrained_weights_the_image_encoder_stays_frozen(
    tiny_records, image_weights_file):
  config, _ = _resolved(tiny_records, image_trainable=None,
                        image_weights=image_weights_file)
  assert config.model.image_trainable is False
  assert config.model.image_frozen


def test_given_values_are_kept_and_not_reported(tiny_records):
  config, choices = _resolved(tiny_records, image_trainable=True,
                              image_feature_stride=8, learning_rate=1e-3,
                              cache_frozen_features=False)
  assert (config.model.image_feature_stride, config.learning_rate) == (8, 1e-3)
  assert not config.cache_frozen_features
  assert choices == []


def test_a_frozen_random_image_encoder_is_refused(tiny_records, tmp_path,
                                                  capsys):
  code = cli.main(['train', '--data', tiny_records, '--output',
                   str(tmp_path / 'm'), '--image-weights', 'none',
                   '--image-frozen', '--text-encoder', 'tiny'])
  assert code == 2
  error = capsys.readouterr().err
  assert 'frozen image encoder without pretrained weights' in error
  assert not os.path.exists(tmp_path / 'm' / 'config.json')


def test_the_flags_leave_the_defaults_to_be_decided():
  config = cli.job_config('train', ['--data', 'd', '--output', 'o'])
  assert config.model.image_trainable is None
  assert config.model.image_feature_stride == 0
  assert config.learning_rate == 0.0
  assert config.learning_rate_schedule == 'cosine'
  assert config.cache_frozen_features is None
  assert config.model.image_augment == 'none'
  frozen = cli.job_config('train', ['--data', 'd', '--output', 'o',
                                     '--image-frozen',
                                     '--no-cache-frozen-features'])
  assert frozen.model.image_trainable is False
  assert frozen.cache_frozen_features is False


def test_training_prints_and_saves_the_choices_and_the_check(
    tiny_records, tmp_path, capsys):
  output = tmp_path / 'model'
  summary = train.train_and_evaluate(tiny_config(
      tiny_records, output, image_trainable=None, image_feature_stride=0,
      learning_rate=0.0, steps_per_epoch=3, export=False))
  printed = capsys.readouterr().out
  assert 'defaults decided:' in printed
  assert 'image_feature_stride = 4' in printed
  assert 'image-branch check on val2014' in printed
  with open(output / 'config.json') as f:
    saved = json.load(f)
  assert saved['model']['image_trainable'] is True
  assert saved['model']['image_feature_stride'] == 4
  assert saved['train']['learning_rate'] == pytest.approx(2e-3 / 2 ** 0.5)
  assert [c['field'] for c in saved['choices']] == [
      'image_trainable', 'image_feature_stride', 'learning_rate',
      'cache_frozen_features']
  check = summary['image_check']
  assert check['questions'] == input_pipeline.count_examples(
      input_pipeline.read_data_spec(tiny_records), 'val2014')
  assert check['gap'] == pytest.approx(
      check['vqa_accuracy'] - check['vqa_accuracy_shuffled_images'])
  assert check['vqa_accuracy'] == pytest.approx(
      summary['val']['vqa_accuracy'], abs=1e-5)


def test_every_question_gets_another_image_of_the_batch():
  image_ids = tf.constant([7, 7, 3, 9, 9, 9, 3], tf.int64)
  order = image_check.other_image_order(image_ids).numpy()
  moved = image_ids.numpy()[order]
  assert (moved != image_ids.numpy()).all()
  assert list(moved) == [3, 3, 9, 7, 7, 7, 9]
  single = image_check.other_image_order(tf.constant([5, 5], tf.int64))
  assert set(single.numpy()) <= {0, 1}  # one image: nothing to move


class _Constant:
  """Logits that ignore the image: the answer depends on the question."""

  def __init__(self, num_answers):
    self.num_answers = num_answers

  def __call__(self, inputs):
    ids = inputs[input_pipeline.INPUT_IDS].numpy()
    return np.eye(self.num_answers)[ids.sum(axis=1) % self.num_answers]


class _ImageMean:
  """Logits from the image alone."""

  def __init__(self, num_answers):
    self.num_answers = num_answers

  def __call__(self, inputs):
    pixels = inputs[input_pipeline.IMAGE].numpy().reshape(
        len(inputs[input_pipeline.IMAGE]), -1)
    return np.eye(self.num_answers)[pixels.sum(axis=1) % self.num_answers]


def test_a_model_that_ignores_the_image_shows_no_gap_and_a_warning(
    tiny_records):
  spec = input_pipeline.read_data_spec(tiny_records)
  check = image_check.measure(_Constant(spec.num_answers), spec, 'val2014',
                              batch_size=16)
  assert check['gap'] == 0.0
  assert 'contributes almost nothing' in image_check.warning(check)


def test_a_model_that_reads_the_image_changes_its_answers(tiny_records):
  spec = input_pipeline.read_data_spec(tiny_records)
  model = _ImageMean(spec.num_answers)
  check = image_check.measure(model, spec, 'val2014', batch_size=16,
                              max_questions=32)
  assert check['questions'] == 32
  answers = []
  for batch in input_pipeline.make_dataset(spec, 'val2014', 16, training=False,
                                           deterministic=True,
                                           for_keras=False).take(2):
    inputs, _ = input_pipeline.to_model_inputs(batch)
    moved = image_check.with_moved_images(inputs, batch['image_id'])
    answers.append((model(inputs).argmax(1), model(moved).argmax(1)))
  own = np.concatenate([a for a, _ in answers])
  other = np.concatenate([b for _, b in answers])
  assert (own != other).mean() > 0.5


def test_the_report_s_one_pass_figure_is_the_check_s_moved_accuracy(
    tiny_records):
  spec = input_pipeline.read_data_spec(tiny_records)
  model = _ImageMean(spec.num_answers)
  check = image_check.measure(model, spec, 'val2014', batch_size=16)
  assert check['gap'] != 0.0
  assert image_check.moved_images_accuracy(
      model, spec, 'val2014', batch_size=16) == pytest.approx(
          check['vqa_accuracy_shuffled_images'])


def test_the_question_only_model_has_no_image_check(tiny_records, tmp_path):
  summary = train.train_and_evaluate(tiny_config(
      tiny_records, tmp_path / 'q', kind='question-only', steps_per_epoch=2,
      export=False))
  assert summary['image_check'] is None


def test_model_config_must_be_resolved_before_building():
  with pytest.raises(ValueError, match='decided before the model is built'):
    multimodal.ModelConfig(image_size=32).check_resolved()


def test_evaluate_shows_the_image_branch_check(tiny_teacher, tiny_records):
  evaluation = evaluate.evaluate(tiny_teacher, tiny_records, 'val2014')
  model = evaluation['reports']['model']
  check = model['image_check']
  assert check['questions'] == model['questions_written']
  assert check['vqa_accuracy'] == pytest.approx(
      model['vqa_accuracy']['written'], abs=1e-6)
  printed = evaluate.format_report(evaluation)
  assert 'shuffled' in printed.splitlines()[0]
  assert f'{check["vqa_accuracy_shuffled_images"]:9.4f}' in printed
  assert 'image_check' not in evaluation['reports']['majority_answer']
