"""Choosing the tf.distribute strategy, and who writes the outputs."""
import json
import os

import tensorflow as tf

from trainer.contract import errors
from trainer.fit.fit_config import STRATEGIES



def make_strategy(name, devices=None):
  """Returns the tf.distribute strategy for `name`.

  Args:
    name: 'auto' (MultiWorkerMirrored when TF_CONFIG names several workers,
      Mirrored over all GPUs when there are several, else the default
      strategy), 'mirrored', 'multiworker' or 'one' (the first GPU, or the
      CPU).
    devices: explicit device list for 'mirrored' (e.g. two logical CPUs).
  """
  if name not in STRATEGIES:
    raise errors.UserError(f'--strategy {name!r}: one of {", ".join(STRATEGIES)}')
  # MultiWorkerMirroredStrategy must come before anything initialises the
  # TensorFlow runtime, listing devices included.
  if name == 'multiworker' or (name == 'auto' and _cluster_size() > 1):
    return tf.distribute.MultiWorkerMirroredStrategy()
  gpus = tf.config.list_logical_devices('GPU')
  if name == 'auto':
    if len(gpus) <= 1:
      return tf.distribute.get_strategy()
    name = 'mirrored'
  if name == 'mirrored':
    return tf.distribute.MirroredStrategy(devices=devices)
  # A one-device MirroredStrategy rather than OneDeviceStrategy, which
  # BackupAndRestore (resuming) does not support.
  return tf.distribute.MirroredStrategy(['/gpu:0' if gpus else '/cpu:0'])


def _cluster_size():
  cluster = json.loads(os.environ.get('TF_CONFIG', '{}')).get('cluster', {})
  return sum(len(tasks) for tasks in cluster.values())


def task_identity(strategy):
  """(task_type, task_id) of this process; ('chief', 0) when not clustered."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  if resolver is None or not resolver.task_type:
    return 'chief', 0
  return resolver.task_type, resolver.task_id


def is_chief(strategy):
  """The one process that writes the final outputs."""
  task_type, task_id = task_identity(strategy)
  if task_type == 'chief':
    return True
  has_chief = 'chief' in (getattr(strategy, 'cluster_resolver', None) and
                          strategy.cluster_resolver.cluster_spec().as_dict()
                          or {})
  return task_type == 'worker' and task_id == 0 and not has_chief


def worker_dir(output, strategy):
  """Where this process writes: `output` for the chief, a private folder else.

  Under MultiWorkerMirroredStrategy every worker must save (saving is a
  collective operation), but only the chief's copy is kept.
  """
  if is_chief(strategy):
    return output
  task_type, task_id = task_identity(strategy)
  return os.path.join(output, 'workers', f'{task_type}-{task_id}')
