"""Before Keras fits: seeds, steps per epoch, learning rate, compiled model."""
import math
import sys

import tensorflow as tf

from trainer.data import input_pipeline
from trainer.data import targets

keras = tf.keras


def seed_everything(config):
  """Seeds Python, NumPy and TF; fixes op order when config.deterministic."""
  keras.utils.set_random_seed(config.seed)
  if config.deterministic:
    tf.config.experimental.enable_op_determinism()


def steps_per_epoch(config, spec, global_batch, splits=None):
  """config.steps_per_epoch, or one pass over the training split (or the
  given splits)."""
  if config.steps_per_epoch:
    return config.steps_per_epoch
  examples = input_pipeline.count_examples(spec, splits or config.train_split)
  return max(1, math.ceil(examples / global_batch))


def learning_rate(config, total_steps):
  """The configured rate, or its cosine decay to 0 over `total_steps`."""
  if config.learning_rate_schedule == 'cosine':
    return keras.optimizers.schedules.CosineDecay(config.learning_rate,
                                                  decay_steps=total_steps)
  return config.learning_rate


def compile_model(model, config, total_steps):
  model.compile(
      optimizer=keras.optimizers.Adam(learning_rate(config, total_steps)),
      loss=targets.LOSSES[config.loss],
      metrics=[targets.vqa_accuracy, targets.top1_accuracy])


def keras_verbose(config, stream=None):
  """Keras's `verbose` for --verbose: -1 picks a progress bar on a terminal
  and a line per epoch otherwise (a log file, CI)."""
  if config.verbose >= 0:
    return config.verbose
  stream = stream or sys.stdout
  return 1 if stream.isatty() else 2
