"""Trains the tiny configuration in a fresh process, for distribution tests.

  python -m tests.trainer.distributed_run DATA OUTPUT mirrored-vs-one
  python -m tests.trainer.distributed_run DATA OUTPUT multiworker   (TF_CONFIG)

'mirrored-vs-one' splits the CPU into two logical devices (possible only
before TensorFlow initialises, hence a separate process), then trains the same
global batch on one device and on two replicas. Prints one JSON line per run.
"""
import json
import os
import sys

import numpy as np


def _train(data, output, strategy, batch_size):
  from tests.trainer import conftest  # pylint: disable=g-import-not-at-top
  from trainer.fit import distribution  # pylint: disable=g-import-not-at-top
  from trainer.models import model_io  # pylint: disable=g-import-not-at-top
  from trainer.fit import train  # pylint: disable=g-import-not-at-top
  # A frozen image branch keeps BatchNorm in inference mode, so one device
  # and two replicas compute the same function of the same global batch.
  image_weights = conftest.save_image_weights(
      f'{output}-image-weights-{os.getpid()}.h5')
  config = conftest.tiny_config(data, output, batch_size=batch_size, epochs=1,
                                steps_per_epoch=4, validation_steps=2,
                                image_trainable=False, image_weights=image_weights,
                                export=False)
  summary = train.train_and_evaluate(config, strategy=strategy)
  weights = []
  if distribution.is_chief(strategy):
    weights = model_io.load_model(output).model.get_weights()
  return {
      'replicas': summary['replicas'],
      'global_batch_size': summary['global_batch_size'],
      'loss': summary['history']['loss'],
      'val': summary['val'],
      'weights': [float(np.abs(w).sum()) for w in weights],
  }


def main(argv):
  data, output, mode = argv
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from trainer.fit import distribution  # pylint: disable=g-import-not-at-top
  if mode == 'mirrored-vs-one':
    cpu = tf.config.list_physical_devices('CPU')[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    one = tf.distribute.MirroredStrategy(['/cpu:0'])
    mirrored = distribution.make_strategy('mirrored',
                                          devices=['/cpu:0', '/cpu:1'])
    runs = [_train(data, os.path.join(output, 'one'), one, 16),
            _train(data, os.path.join(output, 'mirrored'), mirrored, 8)]
  elif mode == 'multiworker':
    runs = [_train(data, output, distribution.make_strategy('multiworker'), 8)]
  else:
    raise SystemExit(f'unknown mode {mode!r}')
  for run in runs:
    print('RESULT ' + json.dumps(run), flush=True)


if __name__ == '__main__':
  main(sys.argv[1:])
