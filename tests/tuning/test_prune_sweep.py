"""A real pruning sweep on tiny data: trials run `prune.prune`."""
import dataclasses
import json

import pytest

from trainer.app import cli
from trainer.fit import prune
from tuning import options as options_lib
from tuning import results
from tuning import sweep


@pytest.fixture(scope='module')
def prune_sweep(ray_context, tiny_records, tiny_student, tmp_path_factory):
  """Three Optuna trials of at most two epochs of two steps."""
  del ray_context
  output = str(tmp_path_factory.mktemp('prune_sweep'))
  base = prune.PruneConfig(model_dir=tiny_student, data=tiny_records,
                           batch_size=16, steps_per_epoch=2,
                           validation_steps=2)
  options = options_lib.SweepOptions(output=output, num_samples=3,
                                     max_epochs=2, verbose=0)
  return sweep.run_prune_sweep(base, options), base, options


@pytest.mark.slow  # a real 3-trial prune sweep (~50 s)
def test_pareto_front_of_accuracy_and_gzip_size(prune_sweep):
  outcome, _, _ = prune_sweep
  table = outcome.table
  assert len(table) == 3
  completed = table[table['status'] == results.COMPLETED]
  assert len(completed)
  assert (completed['gzip_bytes'] > 0).all()
  assert (completed['gzip_bytes'] < completed['raw_bytes']).all()
  assert completed['sparsity'].between(0, 1).all()
  assert table['pareto'].any()
  assert not table.loc[table['status'] != results.COMPLETED, 'pareto'].any()
  assert outcome.best['pareto']
  with open(outcome.paths['plot'], 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  with open(outcome.paths['markdown']) as f:
    header = f.readline()
  assert '| pareto |' in header and '| gzip_bytes |' in header


@pytest.mark.slow
def test_best_config_file_round_trips_into_vqa_prune(prune_sweep,
                                                     tiny_records, tmp_path):
  outcome, base, _ = prune_sweep
  best_file = outcome.paths['best_config']
  with open(best_file) as f:
    fields = json.load(f)
  assert fields['final_sparsity'] == pytest.approx(
      outcome.best['final_sparsity'])
  assert fields['model_dir'] == base.model_dir
  output = str(tmp_path / 'pruned')
  argv = ['--config', best_file, '--data', tiny_records, '--model',
          base.model_dir, '--output', output]
  config = cli.job_config('prune', argv)
  assert config == dataclasses.replace(outcome.best_config, output=output,
                                       export=True, verbose=-1)
