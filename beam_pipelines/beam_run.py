"""How the pipeline runs on Beam: its options (locally, DirectRunner in
memory unless told otherwise) and its counters once it has finished."""
from apache_beam.options.pipeline_options import DirectOptions
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.options.pipeline_options import StandardOptions


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
