"""The `vqa` command: one subcommand per job (trainer/app/commands.py).

  vqa JOB [--config FILE] [--preset NAME] [flags]

Each job's flags come from its config dataclass (trainer/app/flags.py); a
config is the defaults, then the preset, then --config's file, then the
flags given. A user error (trainer.contract.errors.UserError) prints
`vqa JOB: error: MESSAGE` and exits 2 (VQA_TRACEBACK=1 adds its traceback);
any other exception is a bug and keeps its traceback.
"""
import dataclasses
import difflib
import os
import sys
import traceback

from trainer.app import commands
from trainer.app import flags
from trainer.app import presets
from trainer.contract import errors

DISTRIBUTION = 'vqa-compress'
TUNE_HELP = 'Ray Tune sweeps over distillation and pruning settings'
# Errors that mean the inputs or the flags are wrong, not the program.
USER_ERRORS = (errors.UserError,)
TRACEBACK_VARIABLE = 'VQA_TRACEBACK'


def usage():
  lines = ['usage: vqa SUBCOMMAND [options]   (vqa SUBCOMMAND --help)',
           '       vqa --version', '', 'subcommands:']
  entries = [(name, help_text) for name, (_, help_text)
             in commands.JOBS.items()] + [('tune', TUNE_HELP)]
  lines += [f'  {name:<15}{help_text}' for name, help_text in entries]
  return '\n'.join(lines)


def reporting_errors(name, work, job_errors=None):
  """work()'s exit status; a user error (or one of `errors`, {class: exit
  status}) is printed as `vqa NAME: error: MESSAGE` instead."""
  statuses = dict(job_errors or {})
  for error in USER_ERRORS:
    statuses.setdefault(error, 2)
  try:
    return work()
  except tuple(statuses) as e:  # pylint: disable=catching-non-exception
    if os.environ.get(TRACEBACK_VARIABLE):
      traceback.print_exc()
    print(f'vqa {name}: error: {e}', file=sys.stderr)
    return next(status for error, status in statuses.items()
                if isinstance(e, error))


def _takes_preset_flag(name, config_class):
  """Whether `vqa NAME` gets --preset: a preset gives it fields, and its
  config has no `preset` field of its own (`vqa demo`)."""
  own = 'preset' in {field.name for field in dataclasses.fields(config_class)}
  return not own and presets.has_fields(name)


def job_parser(name, job):
  """The parser of `vqa NAME`: its config's flags, --config, --preset."""
  parser = flags.build_parser(f'vqa {name}', job.config_class,
                              job.description, job.skip)
  if _takes_preset_flag(name, job.config_class):
    parser.add_argument('--preset', default='', type=str,
                        choices=tuple(presets.PRESETS),
                        help='start from these sizes (trainer/app/presets.py)'
                        ', under --config and the flags')
  return parser


def parse_job(name, job, argv):
  """(parsed flags, the arguments passed on to the job, e.g. Beam's)."""
  return flags.parse_strict(job_parser(name, job), argv, job.pass_on)


def job_config(name, argv):
  """The config `vqa NAME ARGV` runs with (the same resolution as main)."""
  job = commands.JOBS[name][0]()
  args, _ = parse_job(name, job, argv)
  return _resolve(name, job, args)


def _resolve(name, job, args):
  preset = getattr(args, 'preset', '') or ''
  if not _takes_preset_flag(name, job.config_class):
    preset = ''
  base = presets.preset_fields(preset, name) if preset else None
  return flags.build_config(job.config_class, args, base)


def run_job(name, argv):
  """Runs `vqa NAME ARGV`; returns the exit status."""
  job = commands.JOBS[name][0]()

  def work():
    args, passed_on = parse_job(name, job, argv)
    config = _resolve(name, job, args)
    result = (job.run(config, passed_on) if job.pass_on
              else job.run(config))
    if job.record:
      flags.write_config(config, job.record(config))
    return job.summarize(result, config)
  return reporting_errors(name, work, job.errors)


def run_tune(argv):
  """Runs `vqa tune KIND ARGV`; returns the exit status."""
  from trainer.app import tune  # pylint: disable=g-import-not-at-top
  parser = tune.build_parser()
  kind = next((word for word in argv if word in tune.TRAINER_COMMANDS), '')

  def work():
    args, trainer_flags = parser.parse_known_args(argv)
    trainer_job = commands.JOBS[args.kind][0]()
    options, base = tune.sweep_configs(args, trainer_flags, trainer_job,
                                       tune.sweep_flag_names(parser, args.kind))
    outcome = tune.run_sweep(args.kind, options, base)
    return tune.print_summary(args.kind, outcome, base.data)
  return reporting_errors(' '.join(filter(None, ('tune', kind))), work)


def version():
  """The installed package's version ('unknown' when run from a tree that
  was never installed)."""
  from importlib import metadata  # pylint: disable=g-import-not-at-top
  try:
    return metadata.version(DISTRIBUTION)
  except metadata.PackageNotFoundError:
    return 'unknown'


# TensorFlow's C++ INFO lines (CPU instructions, ...) on every start. A few
# (oneDNN, CUDA drivers) print before TensorFlow reads this and stay
# (docs/configuration.md says what they are).
TF_LOG_LEVEL = ('TF_CPP_MIN_LOG_LEVEL', '1')


def main(argv=None):
  argv = sys.argv[1:] if argv is None else list(argv)
  os.environ.setdefault(*TF_LOG_LEVEL)
  if not argv or argv[0] in ('-h', '--help'):
    print(usage())
    return 0
  if argv[0] == '--version':
    print(f'vqa {version()}')
    return 0
  name, rest = argv[0], argv[1:]
  if name == 'tune':
    return run_tune(rest)
  if name not in commands.JOBS:
    known = list(commands.JOBS) + ['tune']
    close = difflib.get_close_matches(name, known, n=1)
    hint = f'; did you mean {close[0]}?' if close else ''
    print(f'vqa: error: unknown subcommand {name!r}{hint} (vqa --help lists '
          'them)', file=sys.stderr)
    return 2
  return run_job(name, rest)


if __name__ == '__main__':
  sys.exit(main())
