"""What a trial tells Ray Tune: each epoch's metrics with a checkpoint, then
the trainer's final summary.

Ray's own Keras callbacks have moved between releases (ray.air, ray.train,
ray.tune.integration); this one is a few lines on the stable `tune.report`
and is tested against the pinned Ray.
"""
import os
import tempfile

import tensorflow as tf
from ray import tune

from tuning.options import FINAL
from tuning.options import METRIC  # pylint: disable=unused-import
from tuning.options import MODE  # pylint: disable=unused-import
from tuning.options import TIME_ATTR

keras = tf.keras

WEIGHTS = 'weights'  # checkpoint file prefix (a TensorFlow checkpoint)


def epoch_metrics(epoch, logs):
  """Ray metrics of a Keras epoch: the logs as floats, the epoch 1-based."""
  metrics = {name: float(value) for name, value in (logs or {}).items()}
  metrics[TIME_ATTR] = epoch + 1
  return metrics


class TuneReportCallback(keras.callbacks.Callback):
  """Reports every epoch's Keras logs to Ray Tune, with the weights.

  The checkpoint holds the fitted model's weights after the epoch
  (`model.load_weights(os.path.join(checkpoint_dir, WEIGHTS))`); Ray keeps
  it in the trial's directory under the storage path.
  """

  def __init__(self, checkpoint=True):
    super().__init__()
    self.checkpoint = checkpoint

  def on_epoch_end(self, epoch, logs=None):
    metrics = epoch_metrics(epoch, logs)
    if not self.checkpoint:
      tune.report(metrics)
      return
    # Ray copies the directory into the trial's storage before report()
    # returns, so the temporary copy can go right after.
    with tempfile.TemporaryDirectory() as directory:
      self.model.save_weights(os.path.join(directory, WEIGHTS))
      tune.report(metrics,
                  checkpoint=tune.Checkpoint.from_directory(directory))


def last_epoch(summary):
  """The last epoch (1-based) of a trainer summary, resumed runs included."""
  return (summary.get('first_epoch') or 0) + summary['epochs_run']


def final_metrics(summary):
  """The metrics of a trainer summary (distill/prune), as Ray metrics.

  'val_*' are the final evaluation of the saved model (after early stopping
  restored the best weights, or after pruning was stripped).
  """
  metrics = {'val_' + name: float(value)
             for name, value in summary['val'].items()}
  metrics.update({TIME_ATTR: last_epoch(summary), FINAL: 1,
                  'train_seconds': float(summary['train_seconds'])})
  if 'size' in summary:
    metrics.update({name: int(value)
                    for name, value in summary['size'].items()})
  if 'sparsity' in summary:
    metrics['sparsity'] = float(summary['sparsity']['overall'])
  if 'parameters' in summary:
    metrics['parameters'] = int(summary['parameters'])
  return metrics


def report_final(summary):
  """Reports the trainer's final summary as the trial's last result."""
  tune.report(final_metrics(summary))
