"""Sweep compute: ASHA against the full grid it prunes, same grid, same Ray.

  python benchmarks/tune_bench.py --teacher MODEL_DIR --data OUT
      --output WORK_DIR [--grid-points 3] [--max-epochs 4]
      [vqa distill flags for the student and the steps, e.g. --batch-size 32]

Runs the distillation grid (alpha x temperature, grid-points^2 trials) twice
in one Ray session: FIFO (every trial runs --max-epochs: the full grid) and
ASHA (poor trials stop at its rungs). Prints, for each, the trial-epochs, the
summed trial seconds, the wall-clock seconds and the best accuracy, then the
ratios ASHA / grid, whether ASHA kept the grid's best setting, and what the
grid spent before it first reached ASHA's best accuracy (trials run in grid
order). Trials are not deterministic (as in any sweep): compare accuracies
to the second decimal. Absolute times drift on a shared machine.
"""
import argparse
import dataclasses
import os
import sys

import trainer  # pylint: disable=unused-import  (sets TF_USE_LEGACY_KERAS)
import ray

from trainer.app import cli
from tuning import options as options_lib
from tuning import results
from tuning import sweep

ACCURACY = results.ACCURACY


def build_parser():
  parser = argparse.ArgumentParser(
      description=__doc__, allow_abbrev=False,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--teacher', required=True)
  parser.add_argument('--data', required=True)
  parser.add_argument('--output', required=True, help='work directory')
  parser.add_argument('--grid-points', type=int, default=3)
  parser.add_argument('--max-epochs', type=int, default=4)
  parser.add_argument('--reduction-factor', type=float, default=2)
  parser.add_argument('--cpus-per-trial', type=float, default=1)
  parser.add_argument('--gpus-per-trial', type=float, default=0)
  parser.add_argument('--num-cpus', type=int, default=0)
  return parser


def base_config(args, trainer_flags):
  """The DistillConfig from `vqa distill`'s own flags; one shared side file."""
  argv = ['--teacher', args.teacher, '--data', args.data, '--output',
          os.path.join(args.output, 'unused')] + list(trainer_flags)
  config = cli.job_config('distill', argv)
  return dataclasses.replace(config, teacher_logits_dir=os.path.join(
      args.output, 'teacher_logits'))


def sweep_options(args, scheduler):
  return options_lib.SweepOptions(
      output=os.path.join(args.output, scheduler), search='grid',
      grid_points=args.grid_points, scheduler=scheduler,
      max_epochs=args.max_epochs, reduction_factor=args.reduction_factor,
      cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
      num_cpus=args.num_cpus, verbose=0)


def compute(outcome):
  """Trial-epochs, summed trial seconds, wall seconds, best accuracy."""
  table = outcome.table
  return {'trials': len(table), 'trial_epochs': int(table['epochs'].sum()),
          'trial_seconds': float(table['seconds'].sum()),
          'wall_seconds': outcome.seconds,
          'best_accuracy': float(outcome.best[ACCURACY]),
          'best_setting': (outcome.best['alpha'],
                           outcome.best['temperature'])}


def grid_epochs_to_reach(outcome, accuracy):
  """Trial-epochs the grid spent, in run order, until a trial reached it."""
  table = outcome.table.assign(
      order=outcome.table['trial'].str.split('_').str[-1].astype(int))
  spent = 0
  for _, row in table.sort_values('order').iterrows():
    spent += int(row['epochs'])
    if row[ACCURACY] >= accuracy:
      return spent
  return None


def print_report(grid, asha, grid_outcome):
  print(f'{"":<8}{"trials":>8}{"trial-epochs":>14}{"trial s":>10}'
        f'{"wall s":>9}{"best acc":>10}  best (alpha, T)')
  for name, row in (('grid', grid), ('ASHA', asha)):
    alpha, temperature = row['best_setting']
    print(f'{name:<8}{row["trials"]:>8}{row["trial_epochs"]:>14}'
          f'{row["trial_seconds"]:>10.1f}{row["wall_seconds"]:>9.1f}'
          f'{row["best_accuracy"]:>10.4f}  ({alpha:.2f}, {temperature:.2f})')
  print(f'ASHA / grid: trial-epochs '
        f'{asha["trial_epochs"] / grid["trial_epochs"]:.2f}, trial seconds '
        f'{asha["trial_seconds"] / grid["trial_seconds"]:.2f}, wall seconds '
        f'{asha["wall_seconds"] / grid["wall_seconds"]:.2f}')
  same = asha['best_setting'] == grid['best_setting']
  print(f'ASHA kept the grid\'s best setting: {"yes" if same else "no"} '
        f'(accuracy {asha["best_accuracy"]:.4f} vs '
        f'{grid["best_accuracy"]:.4f})')
  reach = grid_epochs_to_reach(grid_outcome, asha['best_accuracy'])
  if reach is not None:
    print(f'the grid reached ASHA\'s best accuracy after {reach} '
          f'trial-epochs (ASHA spent {asha["trial_epochs"]})')


def main(argv=None):
  args, trainer_flags = build_parser().parse_known_args(argv)
  base = base_config(args, trainer_flags)
  # One Ray for both runs, so neither pays its start-up.
  sweep.start_ray(sweep_options(args, 'fifo'))
  try:
    grid_outcome = sweep.run_distill_sweep(base, sweep_options(args, 'fifo'))
    asha_outcome = sweep.run_distill_sweep(base, sweep_options(args, 'asha'))
  finally:
    ray.shutdown()
  print_report(compute(grid_outcome), compute(asha_outcome), grid_outcome)
  return 0


if __name__ == '__main__':
  sys.exit(main())
