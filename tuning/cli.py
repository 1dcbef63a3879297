"""`vqa tune`: Ray Tune sweeps over distillation and pruning settings.

  vqa tune distill --teacher MODEL_DIR --data OUT --output SWEEP_DIR
      [--num-samples 8] [--max-epochs 4] [--search optuna|random|grid]
      [--search-student] [vqa distill flags, e.g. --batch-size 32]
  vqa tune prune --model MODEL_DIR --data OUT --output SWEEP_DIR
      [--num-samples 8] [--max-epochs 4] [vqa prune flags]

Distillation searches alpha in [0, 1] and the temperature in [1, 30] (log
scale), optionally the student's width and learning rate; pruning searches
the final sparsity, the schedule (polynomial or constant), where the ramp
begins and ends (fractions of the fine-tuning) and how often the masks are
updated. ASHA stops poor trials early; each trial runs the same
`vqa distill` / `vqa prune` job, so every flag of those commands (sizes,
steps, --config FILE for a base config) is accepted here too, and their
--alpha/--temperature or --final-sparsity/--schedule are the hand-picked
point the sweep tries first.

Ray: a local one by default (--dashboard to watch it on 127.0.0.1:8265), or
an existing cluster with --address (then put --output on gs://).
SWEEP_DIR receives results.csv, results.md, results.png and
best_config.json:
  vqa distill --config SWEEP_DIR/best_config.json --data OUT --output DIR
An interrupted sweep continues with the same command and --resume.
TensorBoard (per-epoch curves, HParams): tensorboard --logdir SWEEP_DIR/ray
"""
import argparse
import os
import sys

from tuning import options as options_lib

TRAINER_COMMANDS = {'distill': 'vqa distill', 'prune': 'vqa prune'}


def add_sweep_flags(parser):
  """The flags of SweepOptions, with its defaults."""
  defaults = options_lib.SweepOptions()
  parser.add_argument('--data', required=True, help='`vqa preprocess` output')
  parser.add_argument('--output', required=True,
                      help='SWEEP_DIR (local or gs://): results, plot, best '
                      'config, and Ray\'s experiment unless --storage-path')
  parser.add_argument('--name', default=defaults.name,
                      help='Ray experiment name (default: the sweep kind)')
  parser.add_argument('--num-samples', type=int, default=defaults.num_samples,
                      help='trials (optuna, random)')
  parser.add_argument('--max-epochs', type=int, default=defaults.max_epochs,
                      help='epochs of a trial that is not stopped early')
  parser.add_argument('--search', default=defaults.search,
                      choices=options_lib.SEARCHES)
  parser.add_argument('--grid-points', type=int, default=defaults.grid_points,
                      help='values per searched setting with --search grid')
  parser.add_argument('--scheduler', default=defaults.scheduler,
                      choices=options_lib.SCHEDULERS,
                      help='asha stops poor trials; fifo runs all to the end')
  parser.add_argument('--grace-period', type=int,
                      default=defaults.grace_period,
                      help='ASHA: epochs before a trial can be stopped')
  parser.add_argument('--reduction-factor', type=float,
                      default=defaults.reduction_factor)
  parser.add_argument('--cpus-per-trial', type=float,
                      default=defaults.cpus_per_trial)
  parser.add_argument('--gpus-per-trial', type=float,
                      default=defaults.gpus_per_trial,
                      help='fractions (e.g. 0.25) share a GPU between trials')
  parser.add_argument('--max-concurrent-trials', type=int,
                      default=defaults.max_concurrent_trials,
                      help='0: as many as the resources allow')
  parser.add_argument('--storage-path', default=defaults.storage_path,
                      help='Ray results, local or gs:// (default '
                      'SWEEP_DIR/ray); shared storage on a cluster')
  parser.add_argument('--resume', action='store_true',
                      help='continue the interrupted sweep (Tuner.restore)')
  parser.add_argument('--max-failures', type=int,
                      default=defaults.max_failures,
                      help='retries of a failed trial')
  parser.add_argument('--address', default=defaults.address,
                      help='an existing Ray cluster (e.g. auto or '
                      'HEAD:6379); default: start a local Ray')
  parser.add_argument('--num-cpus', type=int, default=defaults.num_cpus,
                      help='CPUs of the local Ray (0: all)')
  parser.add_argument('--dashboard', action='store_true',
                      help='start the Ray dashboard with the local Ray')
  parser.add_argument('--dashboard-host', default=defaults.dashboard_host,
                      help='where the dashboard listens (warns unless '
                      'loopback)')
  parser.add_argument('--dashboard-port', type=int,
                      default=defaults.dashboard_port)
  parser.add_argument('--search-seed', type=int, default=defaults.seed)
  parser.add_argument('--tune-verbose', type=int, default=defaults.verbose,
                      choices=(0, 1, 2), help='Ray Tune progress output')


def build_parser():
  parser = argparse.ArgumentParser(
      prog='vqa tune', description=__doc__, allow_abbrev=False,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  kinds = parser.add_subparsers(dest='kind', required=True)
  distill_parser = kinds.add_parser(
      'distill', allow_abbrev=False,
      help='alpha and temperature (and the student\'s width, rate)',
      epilog='Other flags go to `vqa distill` (see vqa distill --help).')
  distill_parser.add_argument('--teacher', required=True,
                              help='teacher MODEL_DIR')
  distill_parser.add_argument('--search-student', action='store_true',
                              help='also search the student\'s width and '
                              'learning rate')
  add_sweep_flags(distill_parser)
  prune_parser = kinds.add_parser(
      'prune', allow_abbrev=False,
      help='sparsity schedules; the accuracy/size Pareto front',
      epilog='Other flags go to `vqa prune` (see vqa prune --help).')
  prune_parser.add_argument('--model', required=True,
                            help='the trained MODEL_DIR to prune')
  defaults = options_lib.SweepOptions()
  prune_parser.add_argument('--accuracy-tolerance', type=float,
                            default=defaults.accuracy_tolerance,
                            help='best config: the smallest Pareto model at '
                            'most this far below the top accuracy')
  add_sweep_flags(prune_parser)
  return parser


def options_from_args(args):
  return options_lib.SweepOptions(
      output=args.output.rstrip('/'), name=args.name,
      num_samples=args.num_samples, max_epochs=args.max_epochs,
      search=args.search, grid_points=args.grid_points,
      search_student=getattr(args, 'search_student', False),
      scheduler=args.scheduler, grace_period=args.grace_period,
      reduction_factor=args.reduction_factor,
      cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
      max_concurrent_trials=args.max_concurrent_trials,
      storage_path=args.storage_path, resume=args.resume,
      max_failures=args.max_failures, address=args.address,
      num_cpus=args.num_cpus, dashboard=args.dashboard,
      dashboard_host=args.dashboard_host,
      dashboard_port=args.dashboard_port, seed=args.search_seed,
      accuracy_tolerance=getattr(args, 'accuracy_tolerance',
                                 options_lib.SweepOptions().accuracy_tolerance),
      verbose=args.tune_verbose)


def base_config(args, trainer_flags):
  """The trainer's config from its own parser: the same flags as its command.

  The sweep's --output is SWEEP_DIR; each trial gets its own output, so the
  trainer's parser sees a placeholder.
  """
  if '--epochs' in trainer_flags or any(
      flag.startswith('--epochs=') for flag in trainer_flags):
    raise ValueError('--epochs: use --max-epochs (the epochs of a trial that '
                     'ASHA does not stop)')
  argv = ['--data', args.data, '--output',
          os.path.join(args.output, 'unused')] + list(trainer_flags)
  if args.kind == 'distill':
    from trainer.fit import distill as job  # pylint: disable=g-import-not-at-top
    argv += ['--teacher', args.teacher]
  else:
    from trainer.fit import prune as job  # pylint: disable=g-import-not-at-top
    argv += ['--model', args.model]
  parser = job.build_parser()
  # Its errors name both commands: an unknown flag reaches it from `vqa tune`.
  parser.prog = (f'vqa tune {args.kind} (flags of '
                 f'{TRAINER_COMMANDS[args.kind]})')
  return job.config_from_args(parser.parse_args(argv), argv)


def run(args, trainer_flags):
  """Runs the sweep of `args.kind`; returns SweepResults."""
  # Imported here: TensorFlow and Ray make `vqa tune --help` slow otherwise.
  from tuning import sweep  # pylint: disable=g-import-not-at-top
  options = options_from_args(args)
  base = base_config(args, trainer_flags)
  if args.kind == 'distill':
    return sweep.run_distill_sweep(base, options)
  return sweep.run_prune_sweep(base, options)


def print_summary(kind, outcome, data):
  """The table, the chosen trial and how to train it."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  with tf.io.gfile.GFile(outcome.paths['markdown']) as f:
    print(f.read())
  best = outcome.best
  print(f'best trial: {best["trial"]} (validation VQA accuracy '
        f'{best["val_vqa_accuracy"]:.4f})')
  for name, path in outcome.paths.items():
    print(f'  {name:<12} {path}')
  print(f'sweep took {outcome.seconds:.0f} s; Ray experiment in '
        f'{outcome.experiment_path}')
  unfinished = int((outcome.table['status'] == 'not finished').sum())
  if unfinished:
    print(f'the sweep was interrupted with {unfinished} trials not finished: '
          'run the same command with --resume to finish it')
  print(f'train it: {TRAINER_COMMANDS[kind]} --config '
        f'{outcome.paths["best_config"]} --data {data} --output MODEL_DIR')


def main(argv=None):
  argv = sys.argv[1:] if argv is None else list(argv)
  args, trainer_flags = build_parser().parse_known_args(argv)
  try:
    outcome = run(args, trainer_flags)
  except (ValueError, FileNotFoundError) as e:
    print(f'vqa tune {args.kind}: error: {e}', file=sys.stderr)
    return 2
  print_summary(args.kind, outcome, args.data)
  return 0


if __name__ == '__main__':
  sys.exit(main())
