"""An interrupted distillation sweep resumes without redoing finished trials."""
import dataclasses
import os
import signal

import pytest
from ray import tune

from tests.trainer.conftest import tiny_distill_config
from trainer.models import model_io
from tuning import options as options_lib
from tuning import results
from tuning import sweep
from tuning import trials


class InterruptAfterFirstTrial(tune.Callback):
  """Sends this process SIGUSR1, which Tune takes as Ctrl+C, once.

  Tune pickles its callbacks with the experiment and restores them on
  resume, so "once" is a file, not an attribute.
  """

  def __init__(self, marker):
    self.marker = marker

  def on_trial_complete(self, iteration, trials, trial, **info):
    if not os.path.exists(self.marker):
      open(self.marker, 'w').close()
      os.kill(os.getpid(), signal.SIGUSR1)


def _finished_trials(experiment_path):
  """{trial directory: (result lines, history.json mtime)} of finished ones."""
  finished = {}
  for name in os.listdir(experiment_path):
    history = os.path.join(experiment_path, name, trials.MODEL_DIR,
                           model_io.HISTORY_FILE)
    if os.path.exists(history):
      with open(os.path.join(experiment_path, name, 'result.json')) as f:
        finished[name] = (f.read(), os.path.getmtime(history))
  return finished


def test_an_interrupted_sweep_resumes_and_finishes(ray_context, tiny_records,
                                                   tiny_teacher, tmp_path):
  del ray_context
  base = tiny_distill_config(tiny_records, tiny_teacher, '',
                             steps_per_epoch=2, validation_steps=1)
  options = options_lib.SweepOptions(
      output=str(tmp_path / 'sweep'), num_samples=3, max_epochs=2,
      search='random', scheduler='fifo', max_concurrent_trials=1, verbose=0)
  interrupt = InterruptAfterFirstTrial(str(tmp_path / 'interrupted'))
  first = sweep.run_distill_sweep(base, options, callbacks=[interrupt])
  assert os.path.exists(interrupt.marker)
  before = _finished_trials(first.experiment_path)
  assert 1 <= len(before) < 3
  assert (first.table['status'] == results.COMPLETED).sum() == len(before)

  with pytest.raises(ValueError, match='--resume'):
    sweep.run_distill_sweep(base, options)
  resumed = sweep.run_distill_sweep(
      base, dataclasses.replace(options, resume=True))
  assert resumed.experiment_path == first.experiment_path
  assert len(resumed.table) == 3
  assert (resumed.table['status'] == results.COMPLETED).all()
  after = _finished_trials(resumed.experiment_path)
  assert len(after) == 3
  for name, (result_lines, history_time) in before.items():
    assert after[name] == (result_lines, history_time), name
