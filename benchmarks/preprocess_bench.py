r"""Times `vqa preprocess` against decode-once loops on the same photos.

  python benchmarks/preprocess_bench.py [--images 3000] [--rounds 3]
      [--source-width 640 --source-height 480 --image-size 224]
      [--variants loop,loop-mp,beam] [--work-dir DIR]
      [--output-md benchmarks/RESULTS.md]

Generates one labelled split (questions and annotations from
beam_pipelines.sample_data, images replaced by photo-like JPEGs of the source
size: smooth colour fields with fine noise, about 125 KB each at 640x480),
then runs each variant as its own command, in turn, for several rounds:

  loop         benchmarks/decode_once_loop.py --workers 1: one process,
               each image decoded once, the same records and shards;
  loop-mp      the same loop over every core (multiprocessing, one task per
               shard): the hardware limit for this work here;
  beam         vqa preprocess with its default local settings (what a
               user gets);
  beam-in-memory, beam-threads, beam-mp
               the pipeline with --direct_running_mode=in_memory,
               multi_threading, or multi_processing (one worker per core).

Each run's wall time and CPU time (user + system of the command and every
process it started and reaped: RUSAGE_CHILDREN) are measured; throughput and
CPU ratios against `loop` are taken round by round (the variants of a round
run back to back, in an order that alternates between rounds) and their
median is reported, so a drift in the machine's load cancels out. Every
variant's shards are read back and must hold the same records, byte for byte
once decompressed, as the loop's. Start-up and imports count: each command
runs in a fresh interpreter.
"""
import argparse
import dataclasses
import datetime
import gzip
import hashlib
import json
import os
import pathlib
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

SPLIT = 'train2014'
import bench_photos  # pylint: disable=g-bad-import-order
import child_processes  # pylint: disable=g-bad-import-order

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
COMMAND = 'python benchmarks/preprocess_bench.py'
BASELINE = 'loop'
PRODUCT = 'beam'
TARGET_SPEEDUP = 1.3
GOAL_SPEEDUP = 1.7
GOAL_SHARE_OF_LIMIT = 0.85
TARGET_CPU_RATIO = 1.25
VARIANTS = ('loop', 'loop-mp', 'beam', 'beam-in-memory', 'beam-threads',
            'beam-mp')
BEAM_FLAGS = {
    'beam': (),
    'beam-in-memory': ('--direct_running_mode=in_memory',),
    'beam-threads': ('--direct_running_mode=multi_threading',),
    'beam-mp': ('--direct_running_mode=multi_processing',
                '--direct_num_workers=0'),
}
MD_SECTION = '## Preprocessing against decode-once loops (benchmarks/preprocess_bench.py)'
MD_TITLE = '# Benchmark results'

DEFAULTS = {
    'images': 3000,
    'questions_per_image': 5,
    'source_width': 640,
    'source_height': 480,
    'image_size': 224,
    'num_shards': 8,
    'rounds': 3,
    'variants': 'loop,loop-mp,beam',
    'seed': 0,
    'work_dir': None,
    'output_md': str(REPO_ROOT / 'benchmarks' / 'RESULTS.md'),
}


def build_parser():
  parser = argparse.ArgumentParser(
      prog=COMMAND, description=__doc__.split('\n', 1)[0],
      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  parser.add_argument('--images', type=int, help='images in the split')
  parser.add_argument('--questions-per-image', type=int)
  parser.add_argument('--source-width', type=int,
                      help='generated photos (COCO photos are ~640x480)')
  parser.add_argument('--source-height', type=int)
  parser.add_argument('--image-size', type=int,
                      help='side of the images written to the records')
  parser.add_argument('--num-shards', type=int)
  parser.add_argument('--rounds', type=int,
                      help='runs of every variant, interleaved')
  parser.add_argument('--variants',
                      help=f'comma-separated, from {", ".join(VARIANTS)}; '
                      f'{BASELINE} is always run')
  parser.add_argument('--seed', type=int)
  parser.add_argument('--work-dir',
                      help='data and outputs (kept; data reused when its '
                      'settings match); default: a temporary directory')
  parser.add_argument('--output-md',
                      help='markdown file whose section is rewritten ("" to '
                      'skip)')
  parser.set_defaults(**DEFAULTS)
  return parser


# Running one variant.


@dataclasses.dataclass
class Run:
  """One run of one variant."""
  variant: str
  round: int
  wall_s: float
  cpu_s: float
  written: int
  images_decoded: int
  digest: str
  failed: bool = False


def variant_command(name, data_dir, output, args):
  python = sys.executable
  if name.startswith('loop'):
    return [python, str(REPO_ROOT / 'benchmarks' / 'decode_once_loop.py'),
            '--data-dir', data_dir, '--split', SPLIT, '--output', output,
            '--workers', '1' if name == 'loop' else '0',
            '--image-size', str(args.image_size),
            '--num-shards', str(args.num_shards)]
  return [python, '-m', 'trainer.app.cli', 'preprocess',
          '--data-dir', data_dir, '--splits', SPLIT, '--output', output,
          '--image-size', str(args.image_size),
          '--num-shards', str(args.num_shards), *BEAM_FLAGS[name]]


def _written_and_images(name, stdout):
  if name.startswith('loop'):
    summary = json.loads(stdout.strip().splitlines()[-1])
    return summary['written'], summary['images']
  written = int(re.search(rf'^{SPLIT}: \d+ questions read, (\d+) written',
                          stdout, re.MULTILINE).group(1))
  images = int(re.search(r'images read \(Beam counter, all splits\): (\d+)',
                         stdout).group(1))
  return written, images


def shards_digest(output, num_shards):
  """sha256 of the decompressed shards, in shard order."""
  from beam_pipelines import shard_files  # pylint: disable=g-import-not-at-top
  from trainer.contract import record_spec  # pylint: disable=g-import-not-at-top
  digest = hashlib.sha256()
  for index in range(num_shards):
    path = shard_files.shard_path(record_spec.shard_prefix(output, SPLIT), index,
                                  num_shards, record_spec.SHARD_SUFFIX)
    with gzip.open(path, 'rb') as f:
      digest.update(f.read())
  return digest.hexdigest()


def run_variant(name, round_index, data_dir, work_dir, args):
  output = os.path.join(work_dir, 'out', name)
  shutil.rmtree(output, ignore_errors=True)
  command = variant_command(name, data_dir, output, args)
  cpu_before = child_processes.children_cpu_seconds()
  start = time.perf_counter()
  env = child_processes.environment(TF_CPP_MIN_LOG_LEVEL='2')
  done = subprocess.run(command, env=env, capture_output=True,
                        text=True, check=False)
  wall = time.perf_counter() - start
  cpu = child_processes.children_cpu_seconds() - cpu_before
  if done.returncode:
    # Kept and reported, not fatal: exit status 1 is also how the pipeline
    # says that questions went unaccounted for.
    print(f'[bench] round {round_index} {name} FAILED ({done.returncode}): '
          f'{shlex.join(command)}\n{done.stdout[-2000:]}\n'
          f'{done.stderr[-2000:]}', flush=True)
    return Run(name, round_index, wall, cpu, 0, 0, '', failed=True)
  written, decoded = _written_and_images(name, done.stdout)
  run = Run(name, round_index, wall, cpu, written, decoded,
            shards_digest(output, args.num_shards))
  print(f'[bench] round {round_index} {name}: {wall:.1f} s wall, '
        f'{cpu:.1f} CPU-s, {written} written', flush=True)
  return run


def run_rounds(data_dir, work_dir, variants, args):
  runs = []
  for round_index in range(args.rounds):
    order = variants if round_index % 2 == 0 else variants[::-1]
    runs += [run_variant(name, round_index, data_dir, work_dir, args)
             for name in order]
  return runs


# Figures.


def _median(values):
  return statistics.median(values) if values else float('nan')


def summarise(runs, variants):
  """Per variant: medians of wall, CPU and the per-round ratios to loop."""
  baseline = {r.round: r for r in runs
              if r.variant == BASELINE and not r.failed}
  table = {}
  for name in variants:
    mine = [r for r in runs if r.variant == name and not r.failed
            and r.round in baseline]
    if not mine:
      continue
    table[name] = {
        'failed_runs': sum(1 for r in runs if r.variant == name and r.failed),
        'wall_s': _median([r.wall_s for r in mine]),
        'walls': [r.wall_s for r in mine],
        'cpu_s': _median([r.cpu_s for r in mine]),
        'written': mine[0].written,
        'images_decoded': mine[0].images_decoded,
        'speedup': _median([baseline[r.round].wall_s / r.wall_s
                            for r in mine]),
        'cpu_ratio': _median([r.cpu_s / baseline[r.round].cpu_s
                              for r in mine]),
        'same_records': all(r.digest == baseline[r.round].digest
                            for r in mine),
        'same_every_round': len({r.digest for r in mine}) == 1,
    }
  return table


def format_table(table, images):
  lines = ['| variant | wall s (median; every round) | questions/s | '
           'throughput vs loop | CPU-s | CPU-s per 1,000 questions | '
           'CPU vs loop | images decoded | same records as loop | '
           'failed runs |',
           '|---|---|---:|---:|---:|---:|---:|---:|:---:|---:|']
  for name, row in table.items():
    walls = ' / '.join(f'{w:.1f}' for w in row['walls'])
    per_k = row['cpu_s'] / row['written'] * 1000
    once = 'once each' if row['images_decoded'] == images else 'NOT once'
    lines.append(
        f'| {name} | {row["wall_s"]:.1f} ({walls}) | '
        f'{row["written"] / row["wall_s"]:.0f} | {row["speedup"]:.2f}x | '
        f'{row["cpu_s"]:.1f} | {per_k:.2f} | {row["cpu_ratio"]:.2f}x | '
        f'{row["images_decoded"]} ({once}) | '
        f'{"yes" if row["same_records"] else "NO"} | {row["failed_runs"]} |')
  return '\n'.join(lines)


def verdict(table, images):
  """Whether `beam` meets the targets, in a sentence or two."""
  if PRODUCT not in table:
    return 'The default pipeline (beam) was not run.'
  beam = table[PRODUCT]
  speed_ok = beam['speedup'] >= TARGET_SPEEDUP
  cpu_ok = beam['cpu_ratio'] <= TARGET_CPU_RATIO
  once = beam['images_decoded'] == images
  text = (f'Targets for `beam` (default local settings): throughput >= '
          f'{TARGET_SPEEDUP}x loop: {beam["speedup"]:.2f}x, '
          f'{"met" if speed_ok else "MISSED"}; CPU-s per 1,000 questions <= '
          f'{TARGET_CPU_RATIO}x loop: {beam["cpu_ratio"]:.2f}x, '
          f'{"met" if cpu_ok else "MISSED"}; each image decoded once: '
          f'{"yes" if once else "NO"}.')
  if 'loop-mp' in table:
    limit = table['loop-mp']['speedup']
    text += (f' loop-mp (every core) reached {limit:.2f}x loop, so beam ran '
             f'at {beam["speedup"] / limit:.0%} of that limit (goal: '
             f'{GOAL_SPEEDUP}x loop or {GOAL_SHARE_OF_LIMIT:.0%} of the '
             'limit).')
  return text


def _machine():
  model = platform.processor() or 'unknown'
  try:
    with open('/proc/cpuinfo', encoding='utf-8') as f:
      match = re.search(r'^model name\s*:\s*(.+)$', f.read(), re.MULTILINE)
    model = match.group(1).strip() if match else model
  except OSError:
    pass
  return f'nproc {os.cpu_count()}, {model}'


def run_markdown(summary, table, args, argv, load):
  date = datetime.datetime.now(datetime.timezone.utc).strftime(
      '%Y-%m-%d %H:%M UTC')
  return '\n'.join([
      f'### Run: {summary["images"]} images, {summary["questions"]} '
      f'questions, {args.source_width}x{args.source_height} -> '
      f'{args.image_size} px', '',
      f'- command: `{" ".join([COMMAND] + ([shlex.join(argv)] if argv else []))}`',
      f'- date: {date}; machine: {_machine()}; Python '
      f'{platform.python_version()}; 1-min load average '
      f'{load[0]:.1f} -> {load[1]:.1f} (start -> end; other jobs share '
      'the machine)',
      f'- data: {summary["images"]} photo-like JPEGs '
      f'({summary["photo_bytes"] / summary["images"] / 1000:.0f} KB '
      f'each), {summary["questions"]} questions; {args.num_shards} shards; '
      f'{args.rounds} rounds, interleaved',
      '', format_table(table, summary['images']), '',
      verdict(table, summary['images']), ''])


def update_markdown(path, run_text):
  """Puts `run_text` under MD_SECTION, replacing the previous run there."""
  text = (pathlib.Path(path).read_text(encoding='utf-8')
          if os.path.exists(path) else f'{MD_TITLE}\n')
  section = f'{MD_SECTION}\n\n{SECTION_INTRO}\n\n{run_text}'
  pattern = re.compile(rf'(?ms)^{re.escape(MD_SECTION)}\n.*?(?=^## |\Z)')
  if pattern.search(text):
    text = pattern.sub(lambda _: section + '\n', text, count=1)
  else:
    title_end = text.index('\n') + 1 if text.startswith(MD_TITLE) else 0
    text = text[:title_end] + '\n' + section + '\n' + text[title_end:]
  pathlib.Path(path).write_text(text.rstrip('\n') + '\n', encoding='utf-8')


SECTION_INTRO = f"""\
`vqa preprocess` (Beam DirectRunner, default local settings) against the
same work done by a plain Python loop that decodes each image once (`loop`,
one process) and by that loop over every core (`loop-mp`, multiprocessing:
the hardware limit here). All write the same gzip TFRecord shards; the
benchmark checks the decompressed shards are byte-identical. Each command
runs in a fresh interpreter, so imports, worker start-up and the JSON join
count. CPU-s is user + system time of the command and every process it
started. Ratios are taken round by round and the median is shown.
Targets, on 2 cores: `beam` >= {TARGET_SPEEDUP}x the loop's
throughput, and CPU-s per 1,000 questions <= {TARGET_CPU_RATIO}x the loop's."""


def _check_args(parser, args):
  for name in ('images', 'questions_per_image', 'num_shards', 'rounds'):
    if getattr(args, name) < 1:
      parser.error(f'--{name.replace("_", "-")} must be >= 1')
  unknown = set(args.variants.split(',')) - set(VARIANTS)
  if unknown:
    parser.error(f'--variants: unknown {sorted(unknown)}; choose from '
                 f'{", ".join(VARIANTS)}')


def main(argv=None):
  argv = sys.argv[1:] if argv is None else list(argv)
  parser = build_parser()
  args = parser.parse_args(argv)
  _check_args(parser, args)
  variants = [BASELINE] + [v for v in args.variants.split(',')
                           if v and v != BASELINE]
  temporary = None
  if args.work_dir:
    work_dir = os.path.abspath(args.work_dir)
  else:
    temporary = tempfile.TemporaryDirectory(prefix='preprocess_bench_')
    work_dir = temporary.name
  try:
    data_dir = os.path.join(work_dir, 'data')
    print(f'[bench] data in {data_dir} ...', flush=True)
    summary = bench_photos.generate_data(data_dir, args, SPLIT)
    load_before = os.getloadavg()[0]
    runs = run_rounds(data_dir, work_dir, variants, args)
    load = (load_before, os.getloadavg()[0])
  finally:
    if temporary:
      temporary.cleanup()
  table = summarise(runs, variants)
  run_text = run_markdown(summary, table, args, argv, load)
  print('\n' + run_text)
  if args.output_md:
    update_markdown(args.output_md, run_text)
    print(f'[bench] wrote {args.output_md}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
