"""A rigged trainable: certain learning curves, and nothing heavy to import.

Ray unpickles it in each trial's worker by importing this module, so it
imports neither TensorFlow nor the trainer.
"""
from ray import tune

from tuning import options

EPOCHS = 8


def rigged_trial(params):
  """Accuracy grows with the epoch at a rate fixed by `quality`."""
  for epoch in range(1, EPOCHS + 1):
    tune.report({options.METRIC: params['quality'] * epoch / EPOCHS,
                 options.TIME_ATTR: epoch})
  tune.report({options.METRIC: params['quality'],
               options.TIME_ATTR: EPOCHS, options.FINAL: 1})


def flaky_trial(params):
  """Fails once after two epochs (the first attempt), then succeeds."""
  for epoch in range(1, 3):
    tune.report({options.METRIC: 0.5, options.TIME_ATTR: epoch})
  with open(params['attempts'], 'a') as f:
    f.write('attempt\n')
  with open(params['attempts']) as f:
    if len(f.readlines()) == 1:
      raise RuntimeError('a failure on the first attempt')
  tune.report({options.METRIC: 0.5, options.TIME_ATTR: 2, options.FINAL: 1})
