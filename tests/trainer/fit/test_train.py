"""Training behaviour: learning, distribution, resuming, cached features."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.trainer.conftest import tiny_config
from trainer.data import input_pipeline
from trainer.models import model_io
from trainer.fit import callbacks
from trainer.fit import fit_setup
from trainer.fit import train
from trainer.app import cli

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def test_loss_goes_down_and_the_model_is_saved(tiny_records, tmp_path):
  config = tiny_config(tiny_records, tmp_path / 'model', epochs=4,
                       steps_per_epoch=8, export=False)
  summary = train.train_and_evaluate(config)
  losses = summary['history']['loss']
  assert losses[-1] < losses[0]
  assert summary['replicas'] == 1 and summary['global_batch_size'] == 16
  saved = model_io.read_json(str(tmp_path / 'model' / model_io.CONFIG_FILE))
  assert saved['train']['epochs'] == 4
  assert saved['model']['image_size'] == 32  # taken from the records
  with open(os.path.join(tiny_records, 'answers.json')) as f:
    assert saved['answers'] == json.load(f)['answers']
  history = model_io.read_json(str(tmp_path / 'model' /
                                   model_io.HISTORY_FILE))
  assert len(history['history']['val_vqa_accuracy']) == 4
  assert os.listdir(tmp_path / 'model' / 'checkpoints')
  assert os.listdir(tmp_path / 'model' / 'logs')


class _Interrupt(Exception):
  pass


class _StopAfterEpoch(tf.keras.callbacks.Callback):
  """Simulates a killed run: raises once `epoch` has been backed up."""

  def __init__(self, epoch):
    super().__init__()
    self._epoch = epoch

  def on_epoch_end(self, epoch, logs=None):
    if epoch == self._epoch:
      raise _Interrupt()


def test_a_killed_run_resumes_at_the_next_epoch(tiny_records, tmp_path):
  config = tiny_config(tiny_records, tmp_path / 'model', epochs=3,
                       steps_per_epoch=3, export=False)
  with pytest.raises(_Interrupt):
    # BackupAndRestore runs before the interrupting callback at epoch end.
    train.train_and_evaluate(config, extra_callbacks=[_StopAfterEpoch(0)])
  summary = train.train_and_evaluate(config)
  assert summary['first_epoch'] == 1
  assert summary['epochs_run'] == 2
  assert len(summary['history']['loss']) == 2


def _head_weights(output):
  model = model_io.load_model(str(output)).model
  return [w for layer in model.layers if layer.trainable and not
          layer.name.startswith(('tf_bert', 'mobilenet'))
          for w in layer.get_weights()]


def test_cached_frozen_features_train_the_same_model(tiny_records, tmp_path,
                                                    image_weights_file):
  common = dict(epochs=1, steps_per_epoch=5, image_trainable=False,
                image_weights=image_weights_file, export=False, seed=7)
  in_graph = train.train_and_evaluate(tiny_config(
      tiny_records, tmp_path / 'in_graph', cache_frozen_features=False,
      **common))
  cached = train.train_and_evaluate(tiny_config(
      tiny_records, tmp_path / 'cached', cache_frozen_features=True,
      **common))
  assert cached['val']['loss'] == pytest.approx(in_graph['val']['loss'],
                                                rel=1e-4)
  assert cached['val']['vqa_accuracy'] == pytest.approx(
      in_graph['val']['vqa_accuracy'], abs=1e-6)
  for a, b in zip(_head_weights(tmp_path / 'in_graph'),
                  _head_weights(tmp_path / 'cached')):
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def _run_distributed(args, env=None):
  return subprocess.Popen(
      [sys.executable, '-m', 'tests.trainer.distributed_run', *args],
      cwd=REPO, env=env or dict(os.environ), stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT, text=True)


def _results(process, timeout):
  output, _ = process.communicate(timeout=timeout)
  assert process.returncode == 0, output[-3000:]
  return [json.loads(line[len('RESULT '):]) for line in output.splitlines()
          if line.startswith('RESULT ')]


def test_two_mirrored_replicas_match_one_device(tiny_records, tmp_path):
  one, mirrored = _results(_run_distributed(
      [tiny_records, str(tmp_path), 'mirrored-vs-one']), timeout=600)
  assert (one['replicas'], mirrored['replicas']) == (1, 2)
  assert one['global_batch_size'] == mirrored['global_batch_size'] == 16
  np.testing.assert_allclose(mirrored['loss'], one['loss'], rtol=1e-4)
  assert mirrored['val']['loss'] == pytest.approx(one['val']['loss'],
                                                  rel=1e-4)
  np.testing.assert_allclose(mirrored['weights'], one['weights'], rtol=1e-4)


@pytest.mark.slow
def test_multi_worker_mirrored_strategy_on_two_local_workers(
    tiny_records, tmp_path):
  ports = []
  for _ in range(2):
    import socket  # pylint: disable=g-import-not-at-top
    with socket.socket() as s:
      s.bind(('127.0.0.1', 0))
      ports.append(s.getsockname()[1])
  workers = [f'127.0.0.1:{port}' for port in ports]
  processes = []
  for index in range(2):
    env = dict(os.environ, TF_CONFIG=json.dumps({
        'cluster': {'worker': workers},
        'task': {'type': 'worker', 'index': index}}))
    processes.append(_run_distributed(
        [tiny_records, str(tmp_path / 'model'), 'multiworker'], env))
  results = [_results(p, timeout=900)[0] for p in processes]
  assert all(r['replicas'] == 2 for r in results)
  assert all(r['global_batch_size'] == 16 for r in results)
  assert results[0]['val']['loss'] == pytest.approx(results[1]['val']['loss'])
  assert results[0]['weights'] and not results[1]['weights']  # chief saves
  assert os.path.exists(tmp_path / 'model' / model_io.CONFIG_FILE)


def test_train_cli_explains_a_missing_data_folder(tmp_path, capsys):
  code = cli.main(['train', '--data', str(tmp_path / 'missing'),
                   '--output', str(tmp_path / 'model')])
  assert code == 2
  err = capsys.readouterr().err
  assert 'answers.json' in err and 'vqa preprocess' in err


def test_train_cli_explains_an_unknown_text_encoder(tiny_records, tmp_path,
                                                    capsys):
  code = cli.main(['train', '--data', tiny_records, '--output',
                   str(tmp_path / 'm'), '--text-encoder', str(tmp_path / 'no' / 'such' / 'dir')])
  assert code == 2
  assert 'no such directory' in capsys.readouterr().err


def test_every_fit_flag_reaches_the_config():
  argv = ['--data', 'd/', '--output', 'o', '--learning-rate-schedule',
          'cosine', '--validation-steps', '7', '--image-feature-stride', '8',
          '--image-augment', '--loss', 'softmax', '--cache-frozen-features']
  config = cli.job_config('train', argv)
  assert config.learning_rate_schedule == 'cosine'
  assert (config.validation_steps, config.loss, config.data) == (
      7, 'softmax', 'd')
  assert config.cache_frozen_features
  assert config.model.image_augment == 'flip'  # the flag alone: flips
  assert config.model.image_feature_stride == 8
  rotated = cli.job_config(
      'train', ['--data', 'd', '--output', 'o', '--image-augment',
                'flip-rotate', '--image-feature-stride', '4'])
  assert rotated.model.image_augment == 'flip-rotate'
  assert rotated.model.image_feature_stride == 4
  defaults = cli.job_config('train', ['--data', 'd', '--output', 'o'])
  assert defaults == train.TrainConfig(data='d', output='o')


def _stops_early(patience, tmp_path):
  config = train.TrainConfig(early_stopping_patience=patience)
  return any(isinstance(callback, tf.keras.callbacks.EarlyStopping)
             for callback in callbacks.training_callbacks(
                 config, str(tmp_path), chief=False))


def test_early_stopping_patience_zero_never_stops_early(tmp_path):
  # Keras's EarlyStopping(patience=0) would stop at the first epoch that
  # does not beat the best.
  assert _stops_early(3, tmp_path)
  assert not _stops_early(0, tmp_path)


def test_a_negative_early_stopping_patience_is_refused(tiny_records,
                                                       tmp_path, capsys):
  code = cli.main(['train', '--data', tiny_records, '--output',
                   str(tmp_path / 'm'), '--early-stopping-patience', '-1'])
  assert code == 2
  assert '--early-stopping-patience -1: must be >= 0' in (
      capsys.readouterr().err)


def test_cosine_schedule_decays_to_zero():
  config = train.TrainConfig(learning_rate=0.1,
                             learning_rate_schedule='cosine')
  schedule = fit_setup.learning_rate(config, 100)
  assert float(schedule(0)) == pytest.approx(0.1)
  assert float(schedule(50)) == pytest.approx(0.05, rel=1e-4)
  assert float(schedule(100)) == pytest.approx(0.0, abs=1e-7)
  assert fit_setup.learning_rate(train.TrainConfig(
      learning_rate=0.1, learning_rate_schedule='constant'), 100) == 0.1


def test_a_damaged_shard_is_named(tiny_records, tmp_path):
  data = tmp_path / 'records'
  shutil.copytree(tiny_records, data)
  shard = sorted((data / 'train2014').glob('part-*'))[0]
  shard.write_bytes(shard.read_bytes()[:shard.stat().st_size // 2])
  [damaged] = input_pipeline.damaged_shards(str(data))
  assert damaged.startswith(f'{shard} (')
  with pytest.raises(ValueError, match=f'damaged shards: {shard}'):
    train.train_and_evaluate(tiny_config(str(data), tmp_path / 'm',
                                         export=False))


def test_train_logs_a_line_per_epoch_and_keeps_a_finished_model(
    tiny_records, tmp_path, capsys):
  """`vqa train > log`: no progress-bar updates (\\r) in the file; asked for,
  the bar comes back (so the check can fail). A finished MODEL_DIR is not
  trained again without --overwrite."""
  model = str(tmp_path / 'model')
  base = ['train', '--preset', 'tiny', '--data', tiny_records, '--epochs',
          '2', '--steps-per-epoch', '2', '--validation-steps', '1',
          '--image-check-questions', '0', '--output', model]
  assert cli.main(base + ['--verbose', '-1']) == 0
  logged = capsys.readouterr().out
  assert '\r' not in logged
  assert logged.count('Epoch 2/2') == 1
  assert cli.main(base) == 2
  assert 'already holds a finished model' in capsys.readouterr().err
  assert cli.main(base + ['--overwrite', '--verbose', '1']) == 0
  assert '\r' in capsys.readouterr().out
