"""ASHA and retries through the sweep's own Tuner set-up, on rigged trials.

The production trainables run the real trainer (tests/tuning/test_sweeps.py);
here the learning curves are rigged so that ASHA's decisions are certain.
"""
import os

from ray import tune

from tests.tuning.rigged import flaky_trial
from tests.tuning.rigged import rigged_trial
from tuning import options as options_lib
from tuning import results
from tuning import sweep


def _options(tmp_path, scheduler):
  return options_lib.SweepOptions(
      output=str(tmp_path), search='grid', scheduler=scheduler, max_epochs=8,
      grace_period=1, reduction_factor=2, max_concurrent_trials=1,
      verbose=0)


# The good ones first: asynchronous HyperBand compares each trial with the
# ones that reached a rung before it.
SPACE = {'quality': tune.grid_search([0.9, 0.8, 0.2, 0.1])}


def test_asha_stops_poor_trials_early_and_lets_good_ones_finish(
    ray_context, tmp_path):
  del ray_context
  grid = sweep.tune_trainable(rigged_trial, SPACE,
                              _options(tmp_path, 'asha'), 'rigged', {})
  table = results.trial_table(grid, ['quality'])
  by_quality = table.set_index('quality')
  assert by_quality.loc[0.9, 'status'] == results.COMPLETED
  assert by_quality.loc[0.9, 'epochs'] == 8
  stopped = table[table['status'] == results.STOPPED]
  assert set(stopped['quality']) >= {0.1}
  assert (stopped['epochs'] < 8).all()
  assert table['epochs'].sum() < 4 * 8
  assert results.best_distill_row(table)['quality'] == 0.9


def test_fifo_runs_every_trial_to_the_end(ray_context, tmp_path):
  del ray_context
  grid = sweep.tune_trainable(rigged_trial, SPACE,
                              _options(tmp_path, 'fifo'), 'rigged', {})
  table = results.trial_table(grid, ['quality'])
  assert (table['status'] == results.COMPLETED).all()
  assert table['epochs'].sum() == 4 * 8


def test_a_failed_trial_is_retried(ray_context, tmp_path):
  del ray_context
  attempts = tmp_path / 'attempts'
  options = options_lib.SweepOptions(output=str(tmp_path), search='grid',
                                     max_epochs=2, max_failures=1, verbose=0)
  grid = sweep.tune_trainable(
      flaky_trial, {'attempts': tune.grid_search([str(attempts)])}, options,
      'flaky', {})
  table = results.trial_table(grid, ['attempts'])
  assert list(table['status']) == [results.COMPLETED]
  assert attempts.read_text().count('attempt') == 2


def test_a_sweep_turns_ray_s_automatic_loggers_off_for_itself_only(
    monkeypatch):
  """Left off after a sweep, every later Tuner of the process (a test's, a
  user's) would write no result.json nor progress.csv."""
  name = 'TUNE_DISABLE_AUTO_CALLBACK_LOGGERS'
  monkeypatch.delenv(name, raising=False)
  seen = {}

  def fit_or_resume(*args):
    del args
    seen['during'] = os.environ.get(name)
    return 'results'

  monkeypatch.setattr(sweep, '_fit_or_resume', fit_or_resume)
  assert sweep.tune_trainable(None, {}, None, 'distill', {}) == 'results'
  assert seen['during'] == '1'
  assert name not in os.environ
  monkeypatch.setenv(name, '0')  # a user's own setting comes back
  sweep.tune_trainable(None, {}, None, 'distill', {})
  assert os.environ[name] == '0'
