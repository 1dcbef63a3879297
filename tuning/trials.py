"""The Ray Tune trainables: one trial = one call of the trainer's own job.

Each runs in a Ray worker process: it sets TensorFlow up for its share of the
machine, turns the sampled point into the trainer's config, runs
`distill.distill` / `prune.prune` with the reporting callback, and reports
the final summary. The trial's model directory (checkpoints, resume state,
TensorBoard logs) lies inside the trial's directory under the storage path,
which stays the same when a sweep is resumed, so an interrupted trial picks
up from the trainer's own BackupAndRestore state.
"""
import dataclasses
import os

# Before TensorFlow: Ray workers are new processes.
import trainer  # pylint: disable=unused-import,g-bad-import-order
import tensorflow as tf
from ray import tune

from trainer.fit import distill
from trainer.fit import prune
from tuning import reporting
from tuning import spaces

MODEL_DIR = 'model'


def set_memory_growth():
  """Memory growth on every visible GPU, if TensorFlow has not started yet.

  With fractional --gpus-per-trial several trials share one GPU: without
  memory growth the first would take all its memory.
  """
  try:
    for gpu in tf.config.list_physical_devices('GPU'):
      tf.config.experimental.set_memory_growth(gpu, True)
  except RuntimeError:  # devices already initialised in this process
    pass


def configure_tensorflow(cpus):
  """Memory growth, TF thread pools sized to the trial's `cpus`, and a
  clean Keras session.

  Trials sharing a machine would otherwise each start one thread per core.
  """
  set_memory_growth()
  # Actors are reused between trials: start each from a fresh Keras state.
  tf.keras.backend.clear_session()
  threads = max(1, int(cpus))
  try:
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
  except RuntimeError:  # a reused actor: TensorFlow started already
    pass


def trial_output(storage_path, experiment):
  """This trial's model directory, inside its directory in the storage path.

  The trial's directory name is the same in the session's staging area and
  in the storage path (local or gs://), and survives Tuner.restore.
  """
  trial_dir = os.path.basename(tune.get_context().get_trial_dir())
  return os.path.join(storage_path, experiment, trial_dir, MODEL_DIR)


def hparams_callback(output, params):
  """TensorBoard HParams for this trial, beside the trainer's own logs."""
  from tensorboard.plugins.hparams import api as hparams_api  # pylint: disable=g-import-not-at-top
  values = {}
  for name, value in params.items():
    value = value.item() if hasattr(value, 'item') else value  # NumPy scalars
    values[name] = (value if isinstance(value, (bool, int, float, str))
                    else str(value))
  return hparams_api.KerasCallback(os.path.join(output, 'logs'), values)


def _callbacks(output, params):
  return [reporting.TuneReportCallback(), hparams_callback(output, params)]


def _trial_config(config, output):
  """A trial's config: its own output, and no image-branch check. A trial is
  a few epochs, often stopped early by ASHA: too short for the check to
  judge, and its warning would be a false alarm. The model trained from
  best_config.json gets the check."""
  return dataclasses.replace(config, output=output, image_check_questions=0)


def distill_trial(params, base=None, storage_path='', experiment='',
                  cpus=1.0):
  """Distils with the point `params` of spaces.distill_space."""
  configure_tensorflow(cpus)
  output = trial_output(storage_path, experiment)
  config = _trial_config(spaces.distill_config(base, params), output)
  summary = distill.distill(config, extra_callbacks=_callbacks(output,
                                                               params))
  reporting.report_final(summary)


def prune_trial(params, base=None, storage_path='', experiment='', cpus=1.0,
                total_steps=0):
  """Prunes with the point `params` of spaces.prune_space."""
  configure_tensorflow(cpus)
  output = trial_output(storage_path, experiment)
  config = _trial_config(spaces.prune_config(base, params, total_steps),
                         output)
  summary = prune.prune(config, extra_callbacks=_callbacks(output, params))
  reporting.report_final(summary)
