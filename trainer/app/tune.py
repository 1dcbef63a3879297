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
SWEEP_DIR receives results.csv, results.md, results.png,
best_config.json and tune_config.json (the sweep's resolved options and base):
  vqa distill --config SWEEP_DIR/best_config.json --data OUT --output DIR
An interrupted sweep continues with the same command and --resume.
TensorBoard (per-epoch curves, HParams): tensorboard --logdir SWEEP_DIR/ray
"""
import argparse
import os

from trainer.app import flags
from trainer.contract import errors

TRAINER_COMMANDS = {'distill': 'vqa distill', 'prune': 'vqa prune'}
KIND_HELP = {
    'distill': "alpha and temperature (and the student's width, rate)",
    'prune': 'sparsity schedules; the accuracy/size Pareto front',
}
# SweepOptions fields that only one kind of sweep reads.
KIND_SKIP = {'distill': ('accuracy_tolerance',), 'prune': ('search_student',)}
CONFIG_FILE = 'tune_config.json'


def build_parser():
  """`vqa tune KIND`: the sweep's own flags; the rest go to the trainer."""
  from tuning import options  # pylint: disable=g-import-not-at-top
  parser = flags.JobParser(
      prog='vqa tune', description=__doc__, allow_abbrev=False,
      formatter_class=flags.HelpFormatter)
  kinds = parser.add_subparsers(dest='kind', required=True)
  for kind, help_text in KIND_HELP.items():
    command = TRAINER_COMMANDS[kind]
    sub = kinds.add_parser(
        kind, allow_abbrev=False, help=help_text,
        formatter_class=flags.HelpFormatter,
        epilog=f'Other flags (--data, --{"teacher" if kind == "distill" else "model"}, '
        f'--config FILE, sizes, steps) go to `{command}` (see {command} '
        '--help).')
    flags.add_config_flags(sub, options.SweepOptions, skip=KIND_SKIP[kind],
                           config_flag=False)
  return parser


def kind_parsers(parser):
  """{kind: the parser of `vqa tune KIND`} of build_parser()'s parser."""
  kinds = next(action for action in parser._actions  # pylint: disable=protected-access
               if isinstance(action, argparse._SubParsersAction))  # pylint: disable=protected-access
  return dict(kinds.choices)


def sweep_flag_names(parser, kind):
  """The flags `vqa tune KIND` takes itself (to suggest on a typo)."""
  return flags.option_names(kind_parsers(parser)[kind])


def trainer_config(kind, trainer_job, sweep_output, trainer_flags,
                   sweep_flags=()):
  """The trainer's base config, from the flags of its own command.

  The sweep's --output is SWEEP_DIR; each trial gets its own output, so the
  trainer's config holds a placeholder. A flag neither command takes is
  refused, naming the closest flag of either (`sweep_flags`, the sweep's).
  """
  if any(flag == '--epochs' or flag.startswith('--epochs=')
         for flag in trainer_flags):
    raise errors.UserError('--epochs: use --max-epochs (the epochs of a trial that '
                     'ASHA does not stop)')
  # Its errors name both commands: an unknown flag reaches it from `vqa tune`.
  parser = flags.build_parser(
      f'vqa tune {kind} (flags of {TRAINER_COMMANDS[kind]})',
      trainer_job.config_class, skip=trainer_job.skip)
  argv = list(trainer_flags) + ['--output',
                                os.path.join(sweep_output, 'unused')]
  args, _ = flags.parse_strict(parser, argv, also_known=sweep_flags)
  return flags.build_config(trainer_job.config_class, args)


def sweep_configs(args, trainer_flags, trainer_job, sweep_flags=()):
  """(SweepOptions, base trainer config) of a parsed `vqa tune` command."""
  from tuning import options  # pylint: disable=g-import-not-at-top
  sweep_options = flags.build_config(options.SweepOptions, args)
  return sweep_options, trainer_config(args.kind, trainer_job,
                                       sweep_options.output, trainer_flags,
                                       sweep_flags)


def run_sweep(kind, sweep_options, base):
  """Runs the sweep, records its resolved config; returns SweepResults."""
  # Imported here: TensorFlow and Ray make `vqa tune --help` slow otherwise.
  from tuning import sweep  # pylint: disable=g-import-not-at-top
  run = sweep.run_distill_sweep if kind == 'distill' else sweep.run_prune_sweep
  outcome = run(base, sweep_options)
  flags.write_config(
      {'kind': kind, 'sweep': flags.to_dict(sweep_options),
       'base': flags.to_dict(base)},
      os.path.join(sweep_options.output, CONFIG_FILE))
  return outcome


def print_summary(kind, outcome, data):
  """The table, the chosen trial and how to train it; returns 0."""
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
  return 0
