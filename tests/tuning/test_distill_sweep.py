"""A real distillation sweep on tiny data: trials run `distill.distill`."""
import dataclasses
import json
import os

import pytest
import tensorflow as tf

from tests.trainer.conftest import tiny_distill_config
from trainer.app import cli
from trainer.fit import distill
from trainer.fit import teacher_logits
from trainer.models import model_io
from tuning import options as options_lib
from tuning import results
from tuning import sweep
from tuning import trials


@pytest.fixture(scope='module')
def distill_sweep(ray_context, tiny_records, tiny_teacher, tmp_path_factory):
  """Four Optuna trials of at most two epochs of two steps, under ASHA."""
  del ray_context
  output = str(tmp_path_factory.mktemp('distill_sweep'))
  base = tiny_distill_config(tiny_records, tiny_teacher, '',
                             steps_per_epoch=2, validation_steps=2)
  options = options_lib.SweepOptions(output=output, num_samples=4,
                                     max_epochs=2, search='optuna',
                                     cpus_per_trial=1, verbose=0)
  return sweep.run_distill_sweep(base, options), base, options


def test_every_trial_is_in_the_table_and_the_files(distill_sweep):
  outcome, _, options = distill_sweep
  table = outcome.table
  assert len(table) == 4
  assert set(table['status']) <= {results.COMPLETED, results.STOPPED}
  assert (table['status'] == results.COMPLETED).any()
  assert table['alpha'].between(0, 1).all()
  assert table['temperature'].between(1, 30).all()
  # The hand-picked default (alpha 0.1, temperature 4) is tried first.
  assert table['hand_picked'].sum() == 1
  assert table['epochs'].between(1, 2).all()
  with open(outcome.paths['markdown']) as f:
    markdown = f.read()
  assert markdown.startswith('| trial | status | alpha | temperature |')
  assert len(markdown.strip().splitlines()) == 2 + 4
  with open(outcome.paths['plot'], 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  assert os.path.dirname(outcome.paths['csv']) == options.output
  assert outcome.experiment_path == os.path.join(options.output, 'ray',
                                                 'distill')


def test_trials_share_one_teacher_side_file(distill_sweep):
  outcome, _, options = distill_sweep
  side_file = os.path.join(options.output, sweep.TEACHER_LOGITS_DIR,
                           'train2014.tfrecord.gz')
  assert os.path.exists(side_file)
  for path in outcome.table['path']:
    model_dir = os.path.join(path, trials.MODEL_DIR)
    assert not os.path.exists(os.path.join(model_dir,
                                           teacher_logits.LOGITS_DIR))


def test_completed_trials_saved_models_and_tensorboard_hparams(distill_sweep):
  outcome, _, _ = distill_sweep
  completed = outcome.table[outcome.table['status'] == results.COMPLETED]
  for _, row in completed.iterrows():
    model_dir = os.path.join(row['path'], trials.MODEL_DIR)
    saved = model_io.read_json(os.path.join(model_dir, model_io.CONFIG_FILE))
    assert saved['train']['alpha'] == pytest.approx(row['alpha'])
    history = model_io.read_json(os.path.join(model_dir,
                                              model_io.HISTORY_FILE))
    assert history['val']['vqa_accuracy'] == pytest.approx(
        row['val_vqa_accuracy'])
    assert _has_hparams(os.path.join(model_dir, 'logs'))


HPARAMS_SESSION = '_hparams_/session_start_info'


def _hparams_sessions(directory):
  """The HParams session records in every events file under `directory`."""
  sessions = []
  for root, _, names in tf.io.gfile.walk(directory):
    for name in names:
      if not name.startswith('events.out.tfevents'):
        continue
      for event in tf.compat.v1.train.summary_iterator(
          os.path.join(root, name)):
        sessions += [os.path.join(root, name) for value in event.summary.value
                     if value.tag == HPARAMS_SESSION]
  return sessions


def test_each_trial_has_one_hparams_record(distill_sweep):
  """Ray's automatic TensorBoard logger would add a second one, in the
  trial folder beside the trainer's (TensorBoard listed each trial twice)."""
  outcome, _, _ = distill_sweep
  sessions = _hparams_sessions(outcome.experiment_path)
  assert len(sessions) == len(outcome.table) == 4
  for path in outcome.table['path']:
    in_trial = [s for s in sessions if s.startswith(path + os.sep)]
    assert len(in_trial) == 1
    assert os.path.dirname(in_trial[0]) == os.path.join(
        path, trials.MODEL_DIR, 'logs')


def _has_hparams(log_dir):
  for name in tf.io.gfile.listdir(log_dir):
    if not name.startswith('events.out.tfevents'):
      continue
    for event in tf.compat.v1.train.summary_iterator(
        os.path.join(log_dir, name)):
      for value in event.summary.value:
        if value.metadata.plugin_data.plugin_name == 'hparams':
          return True
  return False


def test_best_config_file_round_trips_into_vqa_distill(distill_sweep,
                                                       tiny_records,
                                                       tmp_path):
  outcome, base, _ = distill_sweep
  best_file = outcome.paths['best_config']
  with open(best_file) as f:
    fields = json.load(f)
  assert fields['alpha'] == pytest.approx(outcome.best['alpha'])
  output = str(tmp_path / 'student')
  argv = ['--config', best_file, '--data', tiny_records, '--output', output]
  config = cli.job_config('distill', argv)
  assert config == dataclasses.replace(outcome.best_config, output=output,
                                       export=True, verbose=-1)
  assert config.student == base.student
  # And the command itself trains it (a step, no more).
  assert cli.main(['distill', *argv, '--epochs', '1', '--steps-per-epoch',
                   '1', '--validation-steps', '1', '--verbose', '0']) == 0
  assert os.path.exists(os.path.join(output, model_io.HISTORY_FILE))

