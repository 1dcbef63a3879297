"""The Keras reporting callback against the pinned Ray (a real Tune run)."""
import os

import numpy as np
import pytest
import tensorflow as tf
from ray import tune

from tuning import reporting

keras = tf.keras


def _tiny_model():
  model = keras.Sequential([keras.layers.Dense(1, input_shape=(3,))])
  model.compile(optimizer=keras.optimizers.SGD(0.1), loss='mse')
  return model


def _fit_and_report(config):
  """A Tune trial: fits a linear model, reporting through the callback."""
  keras.utils.set_random_seed(0)
  features = np.random.rand(64, 3).astype('float32')
  labels = features @ np.array([[1.0], [-2.0], [0.5]], 'float32')
  model = _tiny_model()
  history = model.fit(features, labels, validation_split=0.25,
                      epochs=config['epochs'], verbose=0,
                      callbacks=[reporting.TuneReportCallback()])
  reporting.report_final({'val': {'loss': history.history['val_loss'][-1]},
                          'epochs_run': len(history.epoch),
                          'first_epoch': 0, 'train_seconds': 1.0})


def test_each_epoch_is_reported_with_a_checkpoint_then_the_summary(
    ray_context, tmp_path):
  del ray_context  # used for its running Ray
  tuner = tune.Tuner(
      _fit_and_report, param_space={'epochs': 3},
      tune_config=tune.TuneConfig(metric='val_loss', mode='min'),
      run_config=tune.RunConfig(storage_path=str(tmp_path), name='report',
                                verbose=0))
  result = tuner.fit()[0]
  assert result.error is None
  history = result.metrics_dataframe
  # Three epochs, 1-based, with Keras's own log names, then the summary.
  assert list(history[reporting.TIME_ATTR]) == [1, 2, 3, 3]
  assert history['loss'].iloc[0] > history['loss'].iloc[2]
  assert history['val_loss'].notna().all()
  assert list(history[reporting.FINAL].fillna(0)) == [0, 0, 0, 1]
  assert result.metrics['train_seconds'] == 1.0
  # The checkpoint holds the last epoch's weights, loadable into the model.
  assert result.checkpoint is not None
  with result.checkpoint.as_directory() as directory:
    model = _tiny_model()
    model.load_weights(os.path.join(directory, reporting.WEIGHTS))
    assert model.get_weights()[0].shape == (3, 1)


def test_final_metrics_come_from_the_trainer_summary():
  summary = {'val': {'vqa_accuracy': 0.5, 'loss': 2.0}, 'epochs_run': 2,
             'first_epoch': 1, 'train_seconds': 3.5,
             'size': {'raw_bytes': 100, 'gzip_bytes': 40},
             'sparsity': {'overall': 0.8, 'weights': {}}}
  metrics = reporting.final_metrics(summary)
  assert metrics == {'val_vqa_accuracy': 0.5, 'val_loss': 2.0,
                     'epoch': 3, 'final': 1, 'train_seconds': 3.5,
                     'raw_bytes': 100, 'gzip_bytes': 40, 'sparsity': 0.8}


def test_epoch_metrics_are_floats_with_a_one_based_epoch():
  metrics = reporting.epoch_metrics(0, {'val_vqa_accuracy': np.float32(0.25)})
  assert metrics == {'val_vqa_accuracy': pytest.approx(0.25), 'epoch': 1}
  assert isinstance(metrics['val_vqa_accuracy'], float)
