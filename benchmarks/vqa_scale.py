r"""`vqa preprocess` on question and annotation JSON at VQA v2's full size.

  python benchmarks/vqa_scale.py [--work-dir DIR] [--scale 1.0]
      [--beam-args='--direct_running_mode=multi_processing']

Writes train2014 (443,757 questions on 82,783 images) and val2014 (214,354
questions on 40,504 images) in the official layout, ten human answers each,
with records shaped like the official files (about the same bytes per
record). Every image id points at one tiny shared JPEG (--image-pattern), so
the run measures the JSON, join, labelling, tokenising and writing path, and
one small decode per image. Then runs the pipeline as a user would and
reports its wall time, CPU time, and the peak resident memory (kernel VmHWM)
of the launching process and of each worker process it starts (in the
default threaded mode the workers are threads of the launching process).
For comparison it also measures what parsing a whole annotations file with
json.load costs one process: the memory a worker would need without
streaming.
"""
import argparse
import json
import os
import pathlib
import random
import shlex
import subprocess
import sys
import threading
import time

import child_processes  # pylint: disable=g-bad-import-order

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
# VQA v2 (visualqa.org/download.html): questions and images per split.
SPLITS = {'train2014': (443_757, 82_783), 'val2014': (214_354, 40_504)}
NUM_HUMAN_ANSWERS = 10
SHARED_IMAGE = 'shared.jpg'
IMAGE_SIZE = 32
SAMPLE_EVERY_S = 0.5
_ANSWERS = (['yes', 'no'] + [str(n) for n in range(20)] +
            [f'answer {n}' for n in range(3000)])
_QUESTION_TYPES = ('what is the', 'is the', 'how many', 'what color is the',
                   'are there', 'what is this', 'is this a', 'where is the')


def build_parser():
  parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
  parser.add_argument('--work-dir', default='vqa_scale_work',
                      help='data and output go here (several GB)')
  parser.add_argument('--scale', type=float, default=1.0,
                      help='fraction of the full size (for a quick try)')
  parser.add_argument('--num-shards', type=int, default=8)
  parser.add_argument('--beam-args', default='',
                      help='extra Beam flags, one shell-quoted string')
  parser.add_argument('--skip-json-load', action='store_true',
                      help='skip the whole-file json.load measurement')
  return parser


def _answer(rng):
  # A long-tailed answer distribution, as in VQA (yes/no and numbers lead).
  return _ANSWERS[min(int(rng.paretovariate(0.9)) - 1, len(_ANSWERS) - 1)]


def _records(split_index, num_questions, num_images, rng):
  """(question, annotation) pairs shaped like the official files'."""
  first_image = (split_index + 1) * 1_000_000
  for i in range(num_questions):
    image_id = first_image + i * num_images // num_questions
    question_id = image_id * 1000 + i % 1000
    question_type = rng.choice(_QUESTION_TYPES)
    top = _answer(rng)
    answers = [top if rng.random() < 0.7 else _answer(rng)
               for _ in range(NUM_HUMAN_ANSWERS)]
    question = {'image_id': image_id,
                'question': f'{question_type.capitalize()} object number '
                            f'{i % 97} in this picture?',
                'question_id': question_id}
    annotation = {
        'question_type': question_type, 'multiple_choice_answer': top,
        'answers': [{'answer': a, 'answer_confidence': 'yes',
                     'answer_id': n + 1} for n, a in enumerate(answers)],
        'image_id': image_id,
        'answer_type': ('yes/no' if top in ('yes', 'no') else
                        'number' if top.isdigit() else 'other'),
        'question_id': question_id}
    yield question, annotation


def _write_list_file(path, header, key, items):
  """Writes {header..., key: [items]} one item at a time."""
  with open(path, 'w', encoding='utf-8') as f:
    f.write(json.dumps(header)[:-1] + f', "{key}": [')
    for n, item in enumerate(items):
      f.write((', ' if n else '') + json.dumps(item))
    f.write(']}')


def generate(data_dir, scale):
  """Writes both splits; returns {split: (questions, images)}."""
  from beam_pipelines import layout  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  os.makedirs(data_dir, exist_ok=True)
  sizes = {}
  for split_index, (split, (questions, images)) in enumerate(SPLITS.items()):
    questions, images = int(questions * scale), max(1, int(images * scale))
    sizes[split] = (questions, images)
    os.makedirs(os.path.join(data_dir, split), exist_ok=True)
    Image.new('RGB', (48, 48), (120, 80, 40)).save(
        os.path.join(data_dir, split, SHARED_IMAGE), quality=90)
    header = {'info': {'description': 'VQA v2 sized synthetic data'},
              'license': {}, 'data_subtype': split}
    pairs = list(_records(split_index, questions, images,
                          random.Random(split_index)))
    _write_list_file(layout.questions_path(data_dir, split),
                     dict(header, task_type='Open-Ended', data_type='mscoco'),
                     'questions', (q for q, _ in pairs))
    _write_list_file(layout.annotations_path(data_dir, split),
                     dict(header, data_type='mscoco'), 'annotations',
                     (a for _, a in pairs))
    del pairs
  return sizes


class PeakMemory:
  """Samples VmHWM (the kernel's peak RSS) of a process and its descendants."""

  def __init__(self, root_pid):
    self._root = root_pid
    self.peaks = {}  # pid -> (command, peak kB)
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._run, daemon=True)

  def _children(self, pid):
    try:
      with open(f'/proc/{pid}/task/{pid}/children', encoding='ascii') as f:
        return [int(p) for p in f.read().split()]
    except OSError:
      return []

  def _sample(self):
    pending = [self._root]
    while pending:
      pid = pending.pop()
      pending += self._children(pid)
      try:
        with open(f'/proc/{pid}/status', encoding='ascii') as f:
          status = f.read()
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
          command = f.read().replace(b'\0', b' ').decode(errors='replace')
      except OSError:
        continue
      for line in status.splitlines():
        if line.startswith('VmHWM:'):
          kb = int(line.split()[1])
          old = self.peaks.get(pid, ('', 0))[1]
          self.peaks[pid] = (command.strip()[:120], max(old, kb))

  def _run(self):
    while not self._stop.is_set():
      self._sample()
      self._stop.wait(SAMPLE_EVERY_S)

  def __enter__(self):
    self._thread.start()
    return self

  def __exit__(self, *exc):
    self._stop.set()
    self._thread.join()


def preprocess_command(data_dir, output, num_shards, beam_args):
  """The `vqa preprocess` command line for the generated input."""
  return [sys.executable, '-m', 'trainer.app.cli', 'preprocess',
          '--data-dir', data_dir, '--splits', 'train2014,val2014',
          '--output', output, '--overwrite',
          '--image-size', str(IMAGE_SIZE), '--image-pattern', SHARED_IMAGE,
          '--num-shards', str(num_shards), *beam_args]


def run_pipeline(data_dir, output, num_shards, beam_args):
  command = preprocess_command(data_dir, output, num_shards, beam_args)
  cpu_before = child_processes.children_cpu_seconds()
  start = time.perf_counter()
  process = subprocess.Popen(command, env=child_processes.environment(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
  with PeakMemory(process.pid) as memory:
    stdout, stderr = process.communicate()
  wall = time.perf_counter() - start
  lost = 'UNACCOUNTED' in stdout or 'lost between steps' in stderr
  if process.returncode and not lost:
    raise RuntimeError(f'{shlex.join(command)} failed:\n{stderr[-4000:]}')
  launcher = memory.peaks.pop(process.pid)
  # A run that lost elements (UNACCOUNTED before, an AccountingError now):
  # the figures still count, and say so.
  return {'command': shlex.join(command), 'exit_status': process.returncode,
          'wall_s': wall,
          'cpu_s': child_processes.children_cpu_seconds() - cpu_before,
          'stdout': stdout,
          'launcher_peak_mb': launcher[1] / 1024,
          'workers_peak_mb': sorted(
              (kb / 1024 for _, kb in memory.peaks.values()), reverse=True)}


def json_load_peak_mb(path):
  """Peak RSS of a fresh process that json.loads `path` whole."""
  code = ('import json, resource, sys\n'
          'before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n'
          'data = json.load(open(sys.argv[1], encoding="utf-8"))\n'
          'print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)')
  out = subprocess.run([sys.executable, '-c', code, path], check=True,
                       capture_output=True, text=True).stdout.split()
  return int(out[0]) / 1024, int(out[1]) / 1024


def main(argv=None):
  args = build_parser().parse_args(argv)
  work_dir = os.path.abspath(args.work_dir)
  data_dir = os.path.join(work_dir, 'data')
  sys.path.insert(0, str(REPO_ROOT))
  from beam_pipelines import layout  # pylint: disable=g-import-not-at-top
  start = time.perf_counter()
  stamp = os.path.join(data_dir, f'generated-{args.scale}.json')
  if os.path.exists(stamp):
    with open(stamp, encoding='utf-8') as f:
      sizes = json.load(f)
    print(f'[scale] reusing {data_dir}: {sizes}', flush=True)
  else:
    sizes = generate(data_dir, args.scale)
    with open(stamp, 'w', encoding='utf-8') as f:
      json.dump(sizes, f)
    print(f'[scale] generated {sizes} in {time.perf_counter() - start:.0f} s',
          flush=True)
  files = {os.path.basename(p): os.path.getsize(p) / 1e6 for split in sizes
           for p in (layout.questions_path(data_dir, split),
                     layout.annotations_path(data_dir, split))}
  print(f'[scale] JSON sizes (MB): '
        f'{json.dumps({k: round(v) for k, v in files.items()})}', flush=True)
  result = run_pipeline(data_dir, os.path.join(work_dir, 'out'),
                        args.num_shards, shlex.split(args.beam_args))
  print(result.pop('stdout'))
  print(json.dumps(result, indent=1), flush=True)
  if not args.skip_json_load:
    base, peak = json_load_peak_mb(layout.annotations_path(data_dir,
                                                           'train2014'))
    print(f'[scale] json.load of the train annotations: peak RSS {peak:.0f} '
          f'MB (interpreter alone {base:.0f} MB)', flush=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
