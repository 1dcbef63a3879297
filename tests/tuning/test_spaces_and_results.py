"""Search spaces -> trainer configs, and the results table (no Ray run)."""
import json

import numpy as np
import pandas as pd
import pytest

from tests.trainer.conftest import TINY_STUDENT
from trainer.fit import distill
from trainer.fit import prune
from trainer.fit import prune_config
from tuning import dashboard
from tuning import options as options_lib
from tuning import results
from tuning import spaces


def _grid_values(domain):
  return domain['grid_search']


def test_distill_space_covers_the_issue_ranges():
  space = spaces.distill_space(options_lib.SweepOptions(search='optuna'),
                               distill.DistillConfig())
  assert set(space) == {'alpha', 'temperature'}
  assert (space['alpha'].lower, space['alpha'].upper) == (0.0, 1.0)
  assert (space['temperature'].lower, space['temperature'].upper) == (1, 30)
  # Log scale: as many samples below 5.5 as above it.
  samples = space['temperature'].sample(size=2000, random_state=0)
  assert np.mean(np.array(samples) < np.sqrt(30)) == pytest.approx(0.5,
                                                                    abs=0.05)


def test_distill_grid_and_student_search():
  options = options_lib.SweepOptions(search='grid', grid_points=3,
                                     search_student=True)
  space = spaces.distill_space(options, distill.DistillConfig())
  assert _grid_values(space['alpha']) == [0.0, 0.5, 1.0]
  assert _grid_values(space['temperature'])[0] == 1.0
  assert _grid_values(space['temperature'])[-1] == 30.0
  assert _grid_values(space['student_width']) == [0.5, 1.0, 2.0]


def test_a_point_becomes_the_trainer_config():
  base = distill.DistillConfig(student=TINY_STUDENT, learning_rate=1e-3)
  config = spaces.distill_config(base, {'alpha': 0.3, 'temperature': 7.0,
                                        'student_width': 2.0,
                                        'learning_rate': 5e-3})
  assert (config.alpha, config.temperature) == (0.3, 7.0)
  assert config.learning_rate == 5e-3
  assert config.student.hidden_width == 2 * TINY_STUDENT.hidden_width
  assert config.student.image_filters == (16, 16)
  assert config.teacher == base.teacher
  default = spaces.distill_default_point(
      options_lib.SweepOptions(), base)
  assert spaces.distill_config(base, default) == base


def test_mask_updates_spread_over_the_ramp():
  base = prune.PruneConfig(begin_fraction=0.0, end_fraction=0.5)
  config = spaces.prune_config(base, {'final_sparsity': 0.9,
                                      'schedule': 'constant',
                                      'begin_fraction': 0.1,
                                      'end_fraction': 0.6,
                                      'mask_updates': 5}, total_steps=100)
  assert (config.final_sparsity, config.schedule) == (0.9, 'constant')
  assert config.frequency == 10  # ramp of steps 10..60, 5 updates
  automatic = spaces.prune_config(base, {'final_sparsity': 0.9,
                                         'schedule': 'polynomial',
                                         'mask_updates': 0}, 100)
  assert automatic.frequency == 0


def test_prune_grid_varies_sparsity_and_schedule():
  space = spaces.prune_space(options_lib.SweepOptions(search='grid',
                                                      grid_points=2))
  assert _grid_values(space['final_sparsity']) == [0.5, 0.95]
  assert _grid_values(space['schedule']) == list(prune_config.SCHEDULES)


def _table():
  return pd.DataFrame({
      'trial': list('abcde'),
      'status': [results.COMPLETED] * 4 + [results.STOPPED],
      'val_vqa_accuracy': [0.50, 0.48, 0.40, 0.47, 0.9],
      'gzip_bytes': [1000.0, 600.0, 300.0, 700.0, np.nan],
  })


def test_pareto_front_keeps_only_undominated_completed_trials():
  front = results.pareto_front(_table())
  # d is beaten by b (more accurate and smaller); e was stopped early.
  assert list(front) == [True, True, True, False, False]


def test_best_pruned_model_is_the_smallest_within_the_tolerance():
  assert results.best_prune_row(_table(), tolerance=0.025)['trial'] == 'b'
  assert results.best_prune_row(_table(), tolerance=0.0)['trial'] == 'a'
  assert results.best_prune_row(_table(), tolerance=0.2)['trial'] == 'c'


def test_markdown_table_lists_every_trial():
  table = _table()
  text = results.to_markdown(table, ['trial', 'status', 'val_vqa_accuracy'])
  lines = text.strip().splitlines()
  assert lines[0] == '| trial | status | val_vqa_accuracy |'
  assert len(lines) == 2 + len(table)
  assert '| a | completed | 0.5000 |' in lines


def test_best_config_file_has_only_config_fields(tmp_path):
  config = distill.DistillConfig(teacher='t', data='d', output='o',
                                 student=TINY_STUDENT, export=False)
  fields = results.runnable_config(config)
  assert 'output' not in fields and fields['export'] is True
  json.dumps(fields)
  assert fields['student']['image_filters'] == (8, 8)


def test_dashboard_host_warning_only_beyond_loopback():
  assert dashboard.exposure_warning('127.0.0.1') == ''
  assert dashboard.exposure_warning('localhost') == ''
  assert dashboard.exposure_warning('::1') == ''
  assert '0.0.0.0' in dashboard.exposure_warning('0.0.0.0')
  assert dashboard.exposure_warning('my-host.example')


def test_options_are_checked():
  with pytest.raises(ValueError, match='--output'):
    options_lib.SweepOptions().check()
  with pytest.raises(ValueError, match='--search'):
    options_lib.SweepOptions(output='x', search='bayes').check()
  options = options_lib.SweepOptions(output='sweep')
  assert options.storage.endswith('sweep/ray')
  assert options_lib.SweepOptions(
      output='gs://b/s').storage == 'gs://b/s/ray'


def test_the_student_space_centres_on_the_rate_distill_would_choose():
  from trainer.fit import defaults  # pylint: disable=g-import-not-at-top
  base = distill.DistillConfig(student=TINY_STUDENT)  # learning_rate 0: auto
  assert spaces.base_learning_rate(base) == pytest.approx(
      defaults.auto_learning_rate(base.batch_size))
  given = distill.DistillConfig(student=TINY_STUDENT, learning_rate=1e-3)
  assert spaces.base_learning_rate(given) == 1e-3
