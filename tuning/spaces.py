"""Search spaces: which trainer settings a sweep varies, and over what ranges.

A space is a dict of Ray Tune domains keyed by parameter name. `*_config`
turns one point of a space into the trainer's own config (DistillConfig,
PruneConfig), so a trial and the best-config file go through the same
function. `--search grid` replaces the ranges by a few evenly spaced values.
"""
import dataclasses

import numpy as np
from ray import tune

from trainer.fit import defaults
from trainer.fit import prune
from trainer.fit.prune_config import SCHEDULES

ALPHA_RANGE = (0.0, 1.0)
TEMPERATURE_RANGE = (1.0, 30.0)  # searched on a log scale
STUDENT_WIDTH_FACTORS = (0.5, 1.0, 2.0)
LEARNING_RATE_SPAN = 10.0  # searched in [lr / span, lr * span], log scale

FINAL_SPARSITY_RANGE = (0.5, 0.95)
BEGIN_FRACTION_RANGE = (0.0, 0.3)
END_FRACTION_RANGE = (0.5, 1.0)
# Pruning-mask updates over the sparsity ramp; 0 keeps PruneConfig's
# automatic frequency (a tenth of the ramp).
MASK_UPDATES = (0, 2, 5, 20)


# --- distillation -----------------------------------------------------------

def distill_space(options, base):
  """alpha, temperature and, with options.search_student, width and rate."""
  if options.search == 'grid':
    space = {
        'alpha': tune.grid_search(_linear_grid(ALPHA_RANGE,
                                               options.grid_points)),
        'temperature': tune.grid_search(_log_grid(TEMPERATURE_RANGE,
                                                  options.grid_points)),
    }
  else:
    space = {'alpha': tune.uniform(*ALPHA_RANGE),
             'temperature': tune.loguniform(*TEMPERATURE_RANGE)}
  if options.search_student:
    space.update(_student_space(options, base_learning_rate(base)))
  return space


def base_learning_rate(base):
  """The base config's learning rate, or the one `vqa distill` would choose
  for its batch on one device (a rate of 0 means 'decide')."""
  return base.learning_rate or defaults.auto_learning_rate(base.batch_size)


def _student_space(options, learning_rate):
  rates = (learning_rate / LEARNING_RATE_SPAN,
           learning_rate * LEARNING_RATE_SPAN)
  if options.search == 'grid':
    return {'student_width': tune.grid_search(list(STUDENT_WIDTH_FACTORS)),
            'learning_rate': tune.grid_search(_log_grid(rates, 3))}
  return {'student_width': tune.choice(list(STUDENT_WIDTH_FACTORS)),
          'learning_rate': tune.loguniform(*rates)}


def distill_default_point(options, base):
  """The hand-picked settings of `base`, as a point of distill_space."""
  point = {'alpha': base.alpha, 'temperature': base.temperature}
  if options.search_student:
    point.update(student_width=1.0, learning_rate=base_learning_rate(base))
  return point


def scaled_student(student, factor):
  """`student` with every width (channels, units) multiplied by `factor`."""
  scale = lambda width: max(2, int(round(width * factor)))
  return dataclasses.replace(
      student, embedding_dim=scale(student.embedding_dim),
      text_width=scale(student.text_width),
      image_filters=tuple(scale(f) for f in student.image_filters),
      fusion_width=scale(student.fusion_width),
      hidden_width=scale(student.hidden_width))


def distill_config(base, params):
  """The DistillConfig of one point of distill_space."""
  config = dataclasses.replace(base, alpha=float(params['alpha']),
                               temperature=float(params['temperature']))
  if 'student_width' in params:
    config = dataclasses.replace(
        config, student=scaled_student(base.student,
                                       float(params['student_width'])))
  if 'learning_rate' in params:
    config = dataclasses.replace(config,
                                 learning_rate=float(params['learning_rate']))
  return config


# --- pruning ----------------------------------------------------------------

def prune_space(options):
  """Final sparsity, schedule type, ramp begin/end fractions, mask updates.

  The grid varies only the final sparsity and the schedule type (the rest
  stay at the base config's values): a full grid over five settings would
  be far larger than any sweep ASHA makes worth running.
  """
  if options.search == 'grid':
    return {
        'final_sparsity': tune.grid_search(_linear_grid(
            FINAL_SPARSITY_RANGE, options.grid_points)),
        'schedule': tune.grid_search(list(SCHEDULES)),
    }
  return {'final_sparsity': tune.uniform(*FINAL_SPARSITY_RANGE),
          'schedule': tune.choice(list(SCHEDULES)),
          'begin_fraction': tune.uniform(*BEGIN_FRACTION_RANGE),
          'end_fraction': tune.uniform(*END_FRACTION_RANGE),
          'mask_updates': tune.choice(list(MASK_UPDATES))}


def prune_default_point(options, base):
  """The settings of `base`, as a point of prune_space."""
  point = {'final_sparsity': base.final_sparsity, 'schedule': base.schedule}
  if options.search != 'grid':
    point.update(begin_fraction=base.begin_fraction,
                 end_fraction=base.end_fraction, mask_updates=0)
  return point


def mask_update_frequency(config, mask_updates, total_steps):
  """PruneConfig.frequency (steps) for about `mask_updates` over the ramp."""
  if not mask_updates:
    return 0
  steps = prune.schedule_steps(dataclasses.replace(config, frequency=0),
                               total_steps)
  return max(1, (steps.end - steps.begin) // mask_updates)


def prune_config(base, params, total_steps):
  """The PruneConfig of one point of prune_space.

  Args:
    base: PruneConfig with the settings that are not searched.
    params: a point of prune_space.
    total_steps: fine-tuning steps of a trial (steps per epoch x epochs),
      which turns `mask_updates` into a frequency in steps.
  """
  fields = {'final_sparsity': float(params['final_sparsity']),
            'schedule': str(params['schedule'])}
  for name in ('begin_fraction', 'end_fraction'):
    if name in params:
      fields[name] = float(params[name])
  config = dataclasses.replace(base, **fields)
  if 'mask_updates' in params:
    config = dataclasses.replace(config, frequency=mask_update_frequency(
        config, int(params['mask_updates']), total_steps))
  return config


# --- grids ------------------------------------------------------------------

def _linear_grid(bounds, points):
  return [round(float(v), 4) for v in np.linspace(*bounds, points)]


def _log_grid(bounds, points):
  return [round(float(v), 4) for v in np.geomspace(*bounds, points)]
