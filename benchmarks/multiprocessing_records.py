r"""Does `--direct_running_mode=multi_processing` write the records in_memory writes?

  python benchmarks/multiprocessing_records.py [--work-dir DIR] [--scale 0.05]
      [--runs 20] [--reference-runs 1]

Generates the VQA v2-shaped input of vqa_scale.py (at 5% size: 22,187 + 10,717
questions), runs `vqa preprocess` in the default in_memory mode as the
reference, then `--runs` times with `--direct_running_mode=multi_processing
--direct_num_workers=2`, and compares each run's records with the reference
record by record: per split, the set of (question id, SHA-256 of the
serialized tf.train.Example). Prints one row per run (exit status, seconds,
and per split: records written, missing, extra, differing) and appends it to
WORK_DIR/runs.jsonl as it goes, so a stopped loop keeps what it measured.
Why: Beam 2.77's threaded runner drops elements written during its
time-based data-buffer flush, and the multi_processing runner-to-worker data
path keeps that 1,000 ms flush (see benchmarks/beam_flush_race.py).
"""
import argparse
import gzip
import hashlib
import json
import os
import struct
import subprocess
import sys
import time

import child_processes  # pylint: disable=g-bad-import-order
import vqa_scale  # pylint: disable=g-bad-import-order

MULTI_PROCESSING = ('--direct_running_mode=multi_processing',
                    '--direct_num_workers=2')
SPLITS = tuple(vqa_scale.SPLITS)


def build_parser():
  parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
  parser.add_argument('--work-dir', default='multiprocessing_records_work')
  parser.add_argument('--scale', type=float, default=0.05)
  parser.add_argument('--runs', type=int, default=20,
                      help='multi_processing runs to compare')
  parser.add_argument('--reference-runs', type=int, default=1,
                      help='in_memory runs (the first is the reference)')
  parser.add_argument('--num-shards', type=int, default=8)
  return parser


def tfrecord_payloads(path):
  """The records of one gzip TFRecord file (length, crc, data, crc framing)."""
  with gzip.open(path, 'rb') as f:
    while True:
      header = f.read(12)
      if not header:
        return
      length, = struct.unpack('<Q', header[:8])
      yield f.read(length)
      f.read(4)


def record_digests(output, split):
  """{question id: SHA-256 of the serialized Example} of one split."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  directory = os.path.join(output, split)
  digests = {}
  for name in sorted(os.listdir(directory)):
    if not name.endswith('.tfrecord.gz'):
      continue
    for payload in tfrecord_payloads(os.path.join(directory, name)):
      example = tf.train.Example.FromString(payload)
      question_id = example.features.feature['question/id'].int64_list.value[0]
      if question_id in digests:
        raise ValueError(f'{split}: question {question_id} written twice')
      digests[question_id] = hashlib.sha256(payload).hexdigest()
  return digests


def compare(digests, reference):
  """Per split: written, missing, extra, differing against the reference."""
  row = {}
  for split in SPLITS:
    got, want = digests[split], reference[split]
    row[split] = {
        'written': len(got),
        'missing': len(want.keys() - got.keys()),
        'extra': len(got.keys() - want.keys()),
        'differing': sum(got[q] != want[q] for q in got.keys() & want.keys())}
  return row


def run_once(data_dir, output, num_shards, beam_args):
  command = vqa_scale.preprocess_command(data_dir, output, num_shards,
                                         beam_args)
  start = time.perf_counter()
  process = subprocess.run(command, env=child_processes.environment(),
                           capture_output=True, text=True, check=False)
  return process, time.perf_counter() - start


def format_row(row):
  cells = [f'{row["run"]:>3}', f'{row["mode"]:<16}', f'{row["exit"]:>4}',
           f'{row["seconds"]:>6.0f}']
  for split in SPLITS:
    s = row['splits'][split]
    cells.append(f'{s["written"]:>6} {s["missing"]:>4} {s["extra"]:>4} '
                 f'{s["differing"]:>4}')
  return ' | '.join(cells)


def main(argv=None):
  args = build_parser().parse_args(argv)
  work_dir = os.path.abspath(args.work_dir)
  data_dir = os.path.join(work_dir, 'data')
  output = os.path.join(work_dir, 'out')
  os.makedirs(work_dir, exist_ok=True)
  sys.path.insert(0, str(child_processes.REPO_ROOT))
  sizes = vqa_scale.generate(data_dir, args.scale)
  print(f'[records] input {sizes} in {data_dir}', flush=True)
  header = ' | '.join(['run', f'{"mode":<16}', 'exit', '     s'] + [
      f'{split}: written missing extra differing' for split in SPLITS])
  print(header, flush=True)
  plan = ([('in_memory', ())] * args.reference_runs +
          [('multi_processing', MULTI_PROCESSING)] * args.runs)
  reference = None
  totals = {'runs': 0, 'failed': 0, 'different': 0}
  with open(os.path.join(work_dir, 'runs.jsonl'), 'a', encoding='utf-8') as log:
    for number, (mode, beam_args) in enumerate(plan, 1):
      process, seconds = run_once(data_dir, output, args.num_shards,
                                  list(beam_args))
      digests = {split: record_digests(output, split) for split in SPLITS}
      if reference is None:
        if process.returncode:
          raise RuntimeError(f'reference run failed:\n{process.stderr[-3000:]}')
        reference = digests
      row = {'run': number, 'mode': mode, 'exit': process.returncode,
             'seconds': seconds, 'splits': compare(digests, reference),
             'summary': process.stdout.strip().splitlines()[:8],
             'stderr_tail': process.stderr[-600:] if process.returncode else ''}
      print(format_row(row), flush=True)
      log.write(json.dumps(row) + '\n')
      log.flush()
      if mode == 'multi_processing':
        totals['runs'] += 1
        totals['failed'] += bool(process.returncode)
        totals['different'] += any(
            s['missing'] or s['extra'] or s['differing']
            for s in row['splits'].values())
  print(f'[records] multi_processing: {totals["runs"]} runs, '
        f'{totals["failed"]} exited non-zero, {totals["different"]} wrote '
        f'records different from in_memory', flush=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
