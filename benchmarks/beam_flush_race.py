r"""Apache Beam 2.77: the threaded DirectRunner silently drops elements.

  python benchmarks/beam_flush_race.py [--elements 1200000] [--runs 3]
      [--modes in_memory,multi_threading,multi_threading_no_flush]

A self-contained reproduction (Beam only, no project code) for an upstream
report. The pipeline: Create the integers 0..N-1 in 100 slices, fan each
slice out to its integers (FlatMap), key them by i % 1000, GroupByKey, and
count the grouped values. Counters (which travel on Beam's control plane,
not its data channel) count the elements sent into the GroupByKey and the
values that come out of it; each run prints both and exits 0 whatever they
are. `multi_threading_no_flush` is multi_threading with Beam's
DATA_BUFFER_TIME_LIMIT_MS patched to 0 (size-based flushing only).

Upstream report
---------------
Title: Python SDK: time-based data buffer flush drops elements written
during the flush (DirectRunner multi_threading, data_buffer_time_limit_ms)

What happens: with `--direct_running_mode=multi_threading` (Beam 2.77.0,
Python 3.11, Linux, 2 cores), a pipeline that fans out and groups 1.2M
integers loses thousands of elements between the fan-out and the
GroupByKey, and `run().wait_until_finish()` reports DONE. In memory the same
pipeline never loses one; with the time-based flush disabled neither does
multi_threading.

Why (as read in the 2.77 source): for multi_threading,
`portability/fn_api_runner/worker_handlers.py` starts the embedded SDK worker
and the runner's data servicer with `DATA_BUFFER_TIME_LIMIT_MS = 1000`, so
`data_plane.ClosableOutputStream.create` returns a
`TimeBasedBufferingClosableOutputStream`. Its `PeriodicThread` calls
`flush()` every second under `_flush_lock`; `SizeBasedBuffering...flush()`
hands the buffer to the flush callback and then clears it. The thread that
processes the bundle writes to the same stream
(`bundle_processor.DataOutputOperation.process`: `encode_to_stream` then
`maybe_flush()`) without taking `_flush_lock`. Whatever that thread appends
between the callback's read of the buffer and the clear is dropped, with no
error. Inputs whose producing stage ends within the first second never lose
anything, which is why small tests pass.

Who is exposed: DirectRunner multi_threading by default; any runner whose
SDK workers get `--experiments=data_buffer_time_limit_ms=N` with N > 0
(Dataflow's default is 0, no flush thread); multi_processing's
runner-to-worker path uses the same 1,000 ms servicer (see
benchmarks/RESULTS.md, "Beam's time-based flush race", for what was
measured there).

Suggested fix: take `_flush_lock` in `TimeBasedBufferingClosableOutputStream`
around writes (or swap the buffer atomically under the lock in flush()).
"""
import argparse
import sys
import time

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import worker_handlers

MODES = ('in_memory', 'multi_threading', 'multi_threading_no_flush')
NAMESPACE = 'flush_race'
SLICES = 100
KEYS = 1000


def _integers(slice_index, elements):
  sent = Metrics.counter(NAMESPACE, 'sent')
  for i in range(slice_index, elements, SLICES):
    sent.inc()
    yield i % KEYS, i


def _count_group(key_values):
  _, values = key_values
  Metrics.counter(NAMESPACE, 'received').inc(sum(1 for _ in values))


def run_once(mode, elements):
  """(final state, sent, received, seconds) of one run in `mode`."""
  running_mode = 'multi_threading' if mode.startswith('multi_threading') else mode
  worker_handlers.DATA_BUFFER_TIME_LIMIT_MS = 0 if mode.endswith('no_flush') else 1000
  options = PipelineOptions([f'--direct_running_mode={running_mode}',
                             '--direct_num_workers=2', '--runner=DirectRunner'])
  start = time.perf_counter()
  pipeline = beam.Pipeline(options=options)
  _ = (pipeline
       | 'Slices' >> beam.Create(range(SLICES))
       | 'FanOut' >> beam.FlatMap(_integers, elements)
       | 'Group' >> beam.GroupByKey()
       | 'Count' >> beam.Map(_count_group))
  result = pipeline.run()
  result.wait_until_finish()
  counters = {c.key.metric.name: c.committed for c in result.metrics().query(
      MetricsFilter().with_namespace(NAMESPACE))['counters']}
  return (str(result.state), counters.get('sent', 0),
          counters.get('received', 0), time.perf_counter() - start)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
  parser.add_argument('--elements', type=int, default=1_200_000)
  parser.add_argument('--runs', type=int, default=3)
  parser.add_argument('--modes', default=','.join(MODES))
  args = parser.parse_args(argv)
  print(f'apache_beam {beam.__version__}, {args.elements} elements')
  print('mode                      run   state     sent  received      lost      s')
  for mode in args.modes.split(','):
    if mode not in MODES:
      parser.error(f'--modes: {mode!r} is not one of {", ".join(MODES)}')
    for run in range(1, args.runs + 1):
      state, sent, received, seconds = run_once(mode, args.elements)
      print(f'{mode:<25} {run:>3} {state:>7}  {sent:>9} {received:>9} '
            f'{sent - received:>9} {seconds:>6.1f}', flush=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
