"""Pruning: schedules from real steps, sparsity reached, stripped, smaller."""
import json

import numpy as np
import pytest

from trainer.measure import evaluate
from trainer.models import model_io
from trainer.fit import prune
from trainer.fit import prune_config
from trainer.app import cli


def _config(data, model, output, **overrides):
  fields = dict(model_dir=model, data=data, output=str(output), epochs=2,
                steps_per_epoch=4, batch_size=16, deterministic=True,
                verbose=0, export=False)
  fields.update(overrides)
  return prune.PruneConfig(**fields)


def test_schedule_steps_come_from_the_real_number_of_steps():
  config = prune.PruneConfig(begin_fraction=0.1, end_fraction=0.5)
  steps = prune.schedule_steps(config, 200)
  assert (steps.begin, steps.end, steps.frequency) == (20, 100, 8)
  explicit = prune.PruneConfig(begin_step=5, end_step=25, frequency=3)
  assert prune.schedule_steps(explicit, 200) == prune.ScheduleSteps(5, 25, 3)
  # Early stopping may only restore epochs that end at the final sparsity.
  steps = prune.ScheduleSteps(10, 100, 9)
  assert prune.first_pruned_epoch(config, steps, 30) == 3  # step 120 >= 100
  assert prune.first_pruned_epoch(config, steps, 50) == 1
  constant = prune.PruneConfig(schedule='constant')
  assert prune.first_pruned_epoch(constant, steps, 30) == 0
  with pytest.raises(ValueError, match='after begin step'):
    prune.schedule_steps(prune.PruneConfig(begin_step=9, end_step=9), 10)


@pytest.mark.parametrize('schedule', prune_config.SCHEDULES)
def test_student_reaches_the_scheduled_sparsity_and_shrinks(
    tiny_records, tiny_student, tmp_path, schedule):
  output = tmp_path / 'pruned'
  summary = prune.prune(_config(tiny_records, tiny_student, output,
                                final_sparsity=0.75, schedule=schedule,
                                end_fraction=0.5, frequency=1))
  assert summary['sparsity_reached']
  assert summary['wrappers_left'] == 0
  for name, value in summary['sparsity']['weights'].items():
    assert value == pytest.approx(0.75, abs=0.02), name
  assert set(summary['pruned_layers']) >= {'token_embedding', 'text_conv_0',
                                           'image_conv_1', 'head_hidden'}
  # The first image convolution and the answer layer stay dense by default.
  assert set(summary['kept_dense']) == {'image_conv_0', 'answer_logits'}
  assert not set(summary['kept_dense']) & set(summary['pruned_layers'])
  # The layers kept dense (and batch norm, biases) are a large part of the
  # tiny compact student, so 75% sparsity saves about a third.
  assert summary['size']['gzip_bytes'] < 0.7 * (
      summary['unpruned_size']['gzip_bytes'])
  # The saved model is the stripped one, sparse, and evaluates as usual.
  loaded = model_io.load_model(str(output))
  assert loaded.architecture == model_io.STUDENT
  # The compact vocabulary comes along: the same wordpieces, remapped.
  assert model_io.read_compact_vocabulary(str(output)) == (
      model_io.read_compact_vocabulary(tiny_student))
  embeddings = loaded.model.get_layer('token_embedding').get_weights()[0]
  assert np.mean(embeddings == 0) == pytest.approx(0.75, abs=0.02)
  for name in summary['kept_dense']:
    kernel = loaded.model.get_layer(name).get_weights()[0]
    assert np.mean(kernel == 0) < 0.01, name
  saved = model_io.read_json(str(output / model_io.CONFIG_FILE))
  assert saved['pruning']['source_model'] == tiny_student
  report = evaluate.evaluate(str(output), tiny_records, 'val2014')
  assert report['reports']['model']['questions_written'] > 0


def test_teacher_is_pruned_layer_by_layer_around_bert(tiny_records,
                                                      tiny_teacher, tmp_path):
  output = tmp_path / 'pruned_teacher'
  summary = prune.prune(_config(tiny_records, tiny_teacher, output,
                                epochs=1, steps_per_epoch=3,
                                final_sparsity=0.5, schedule='constant'))
  assert summary['wrappers_left'] == 0
  # MobileNetV2's convolutions (nested model) and the head are pruned ...
  assert any(name.startswith('block_') for name in summary['pruned_layers'])
  assert 'head_hidden' in summary['pruned_layers']
  assert set(summary['kept_dense']) == {'Conv1', 'answer_logits'}
  assert all(v == pytest.approx(0.5, abs=0.02)
             for v in summary['sparsity']['weights'].values())
  # ... and the frozen BERT is untouched.
  source = model_io.load_model(tiny_teacher).model
  pruned = model_io.load_model(str(output)).model
  bert_of = lambda model: next(layer for layer in model.layers
                               if 'bert' in layer.name)
  for a, b in zip(bert_of(source).get_weights(),
                  bert_of(pruned).get_weights()):
    np.testing.assert_array_equal(a, b)


def test_warns_when_the_schedule_outlasts_training(tiny_records, tiny_student,
                                                   tmp_path, capsys):
  summary = prune.prune(_config(tiny_records, tiny_student, tmp_path / 'p',
                                epochs=1, steps_per_epoch=2, end_step=50))
  assert 'will not be reached' in capsys.readouterr().err
  assert summary['sparsity']['overall'] < 0.8


def test_config_file_round_trips_with_flag_overrides(tmp_path):
  path = tmp_path / 'best.json'
  path.write_text(json.dumps({'final_sparsity': 0.6, 'schedule': 'constant',
                              'frequency': 7}))
  argv = ['--model', 'm', '--data', 'd/', '--output', 'o', '--config',
          str(path), '--frequency', '3']
  config = cli.job_config('prune', argv)
  assert (config.final_sparsity, config.schedule, config.frequency) == (
      0.6, 'constant', 3)
  path.write_text(json.dumps({'sparsity': 0.6}))
  with pytest.raises(ValueError, match='unknown PruneConfig fields'):
    cli.job_config('prune', argv)


def test_keep_dense_flag_names_layers_or_none():
  base = ['--model', 'm', '--data', 'd', '--output', 'o']
  parse = lambda argv: cli.job_config('prune', argv)
  assert parse(base).keep_dense == prune.PruneConfig().keep_dense
  assert parse(base + ['--keep-dense']).keep_dense == ()
  assert parse(base + ['--keep-dense', 'head_hidden']).keep_dense == (
      'head_hidden',)


def test_keep_dense_nothing_prunes_every_prunable_layer(
    tiny_records, tiny_student, tmp_path):
  summary = prune.prune(_config(tiny_records, tiny_student, tmp_path / 'p',
                                epochs=1, steps_per_epoch=2, keep_dense=()))
  assert summary['kept_dense'] == []
  assert {'image_conv_0', 'answer_logits'} <= set(summary['pruned_layers'])


def test_cli_reports_a_missing_model(tiny_records, tmp_path, capsys):
  code = cli.main(['prune', '--model', str(tmp_path / 'nope'), '--data',
                   tiny_records, '--output', str(tmp_path / 'o')])
  assert code == 2
  assert 'nope: not a MODEL_DIR (it has no config.json' in (
      capsys.readouterr().err)
