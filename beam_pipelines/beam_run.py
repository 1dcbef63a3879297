"""How the pipeline runs on Beam: its options (locally, DirectRunner in
memory unless told otherwise) and its counters once it has finished."""
from apache_beam.options import pipeline_options as beam_options
from apache_beam.options.pipeline_options import DirectOptions
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.options.pipeline_options import StandardOptions

from trainer.contract import errors


class _OptionParser(beam_options._BeamArgumentParser):  # pylint: disable=protected-access
  """Beam's own parser of pipeline options, raising instead of exiting."""

  def error(self, message):
    raise errors.UserError(f'Beam pipeline option: {message}')


def _option_parser():
  """Every pipeline option Beam defines (runners' included), as Beam's
  PipelineOptions.get_all_options collects them."""
  parser = _OptionParser(allow_abbrev=False)
  classes = {str(cls): cls for cls in PipelineOptions.__subclasses__()}
  for cls in classes.values():
    cls._add_argparse_args(parser)  # pylint: disable=protected-access
  return parser


def refused_arguments(arguments):
  """(the arguments no Beam pipeline option takes, Beam's flag names).

  Beam itself only logs "Discarding unparseable args" and runs on; a typo
  of a job flag must stop the job instead.
  """
  parser = _option_parser()
  _, refused = parser.parse_known_args(arguments)
  names = [name for action in parser._actions  # pylint: disable=protected-access
           for name in action.option_strings]
  return refused, names


def pipeline_options(beam_args):
  """Beam options; locally, DirectRunner in memory (one process) by default.

  In memory, bundles pass between steps without gRPC or extra processes,
  which on a small machine costs the least CPU. The multi_threading mode was
  1.3-1.8x faster on 2 cores, but Beam 2.77's time-based data-buffer flush
  drops elements in it, so preprocess_checks.check_beam_args refuses it
  (benchmarks/beam_flush_race.py, benchmarks/RESULTS.md).
  """
  options = PipelineOptions(beam_args)
  standard = options.view_as(StandardOptions)
  if not standard.runner:
    standard.runner = 'DirectRunner'
    direct = options.view_as(DirectOptions)
    if not any(arg.startswith('--direct_running_mode') for arg in beam_args):
      direct.direct_running_mode = 'in_memory'
      direct.direct_num_workers = 1
  return options


def runner_name(beam_args):
  """The --runner the Beam arguments give ('' for the default)."""
  return PipelineOptions(beam_args).view_as(StandardOptions).runner or ''


def beam_counters(result):
  """{counter name: value} from a finished pipeline, summed over steps."""
  counters = {}
  for counter in result.metrics().query()['counters']:
    value = counter.committed
    if value is None:  # Some runners only report attempted values.
      value = counter.attempted
    name = counter.key.metric.name
    counters[name] = counters.get(name, 0) + value
  return counters
