r"""Drop one hand-over on Beam's data channel; does `vqa preprocess` notice?

  python benchmarks/data_channel_drops.py [--work-dir DIR] [--scale 0.0045]
      [--drops all|N]

A fault injected inside Beam, not in this project's code: in the default
in_memory mode every bundle's encoded elements pass from one step to the next
through `data_plane.InMemoryDataChannel.output_stream`. This script counts
those hand-overs in a clean run on vqa_scale.py's input (at 0.45%: 1,996 +
964 questions), then runs the pipeline once per hand-over K, with the K-th
replaced by nothing, and sorts each run into:
  failed      run_preprocess raised AccountingError (the message names the
              step) or another error: nothing is taken for a good output;
  same        it finished and wrote exactly the clean run's records (the lost
              hand-over carried nothing the output depends on);
  DIFFERENT   it finished, and its records differ from the clean run's: the
              loss went unnoticed (should never happen).
"""
import argparse
import collections
import os
import sys
import time

import child_processes  # pylint: disable=g-bad-import-order
import multiprocessing_records  # pylint: disable=g-bad-import-order
import vqa_scale  # pylint: disable=g-bad-import-order

IN_MEMORY = ['--direct_running_mode=in_memory']


class HandOvers:
  """Counts non-empty hand-overs on the in-memory data channel; replaces the
  `drop`-th (1-based) with nothing."""

  def __init__(self):
    self.count = 0
    self.drop = 0
    self.dropped = None

  def install(self):
    from apache_beam.runners.worker import data_plane  # pylint: disable=g-import-not-at-top
    original = data_plane.InMemoryDataChannel.output_stream
    hand_overs = self

    def output_stream(channel, instruction_id, transform_id):
      stream = original(channel, instruction_id, transform_id)
      callback = stream._close_callback  # pylint: disable=protected-access

      def hand_over(data):
        if data:
          hand_overs.count += 1
          if hand_overs.count == hand_overs.drop:
            hand_overs.dropped = (transform_id, len(data))
            data = b''
        callback(data)
      stream._close_callback = hand_over  # pylint: disable=protected-access
      stream._flush_callback = hand_over  # pylint: disable=protected-access
      return stream

    data_plane.InMemoryDataChannel.output_stream = output_stream


def run(config, hand_overs, drop):
  """('failed', message) or ('finished', {split: digests}) of one run."""
  from beam_pipelines import preprocess  # pylint: disable=g-import-not-at-top
  hand_overs.count, hand_overs.drop, hand_overs.dropped = 0, drop, None
  try:
    preprocess.run_preprocess(config, IN_MEMORY)
  except Exception as e:  # pylint: disable=broad-except
    return 'failed', f'{type(e).__name__}: {str(e)[:300]}'
  return 'finished', {
      split: multiprocessing_records.record_digests(config.output, split)
      for split in vqa_scale.SPLITS}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
  parser.add_argument('--work-dir', default='data_channel_drops_work')
  parser.add_argument('--scale', type=float, default=0.0045)
  parser.add_argument('--drops', default='all',
                      help='"all" hand-overs, or the first N')
  args = parser.parse_args(argv)
  work_dir = os.path.abspath(args.work_dir)
  sys.path.insert(0, str(child_processes.REPO_ROOT))
  from beam_pipelines import preprocess  # pylint: disable=g-import-not-at-top
  data_dir = os.path.join(work_dir, 'data')
  sizes = vqa_scale.generate(data_dir, args.scale)
  config = preprocess.PreprocessConfig(
      data_dir=data_dir, output=os.path.join(work_dir, 'out'),
      splits=tuple(vqa_scale.SPLITS), image_size=vqa_scale.IMAGE_SIZE,
      image_pattern=vqa_scale.SHARED_IMAGE, num_shards=4, overwrite=True)
  hand_overs = HandOvers()
  hand_overs.install()
  state, clean = run(config, hand_overs, drop=0)
  if state != 'finished':
    raise RuntimeError(f'the clean run failed: {clean}')
  total = hand_overs.count
  print(f'[drops] input {sizes}; clean run: {total} non-empty hand-overs',
        flush=True)
  last = total if args.drops == 'all' else min(total, int(args.drops))
  tally = collections.Counter()
  for drop in range(1, last + 1):
    start = time.perf_counter()
    state, outcome = run(config, hand_overs, drop)
    if state == 'failed':
      verdict, detail = 'failed', outcome
    elif outcome == clean:
      verdict, detail = 'same', ''
    else:
      verdict = 'DIFFERENT'
      detail = ', '.join(f'{split}: {len(outcome[split])} records vs '
                         f'{len(clean[split])}' for split in clean)
    tally[verdict] += 1
    print(f'{drop:>4} {verdict:<9} {time.perf_counter() - start:5.1f}s '
          f'dropped {hand_overs.dropped} {detail}', flush=True)
  print(f'[drops] {last} single drops: ' + ', '.join(
      f'{verdict} {tally[verdict]}' for verdict in ('failed', 'same',
                                                    'DIFFERENT')), flush=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
