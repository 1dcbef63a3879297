"""Do the defaults learn? Every model of the flow, trained with the
documented defaults, on each sample-data family.

  python benchmarks/defaults_bench.py [--kind all] [--images 1600]
      [--epochs N] [--work-dir DIR]
  python benchmarks/defaults_bench.py --kind glyphs --images 600 --epochs 10

For each family (`all`: shapes, photos and glyphs, each at its default image
size, FAMILY_IMAGE_SIZES; --image-size overrides it): `vqa sample-data`,
`vqa preprocess`, then, with no accuracy-tuning flag (only `--image-weights
none`, as on a machine without network access):
  question-only   vqa train --architecture question-only
  teacher         vqa train
  student         vqa distill --teacher TEACHER
  student alone   vqa distill --alpha 1 (the same student without a teacher)
  reference       benchmarks/reference_cnn.py: a plain 4-block CNN over the
                  same cached text features, same epochs, batch and rate
and the majority answer. Every model is scored on val2014 with its own images
and with the images moved among the questions of each batch (the
image-branch check). Prints a Markdown table per family and checks the
targets:
  the teacher at least 0.20 above the question-only model;
  the teacher within 0.02 of the reference, or above it;
  the student at least 97% of the teacher.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

TOP_ANSWERS = {'shapes': 10, 'photos': 12, 'glyphs': 9}
# Each family's default image size (as in docs/data.md).
FAMILY_IMAGE_SIZES = {'shapes': 32, 'photos': 32, 'glyphs': 96}
TEACHER_MARGIN = 0.20
REFERENCE_SLACK = 0.02
STUDENT_SHARE = 0.97


def vqa(*args):
  """Runs one `vqa` subcommand as a user would; returns its seconds."""
  start = time.monotonic()
  subprocess.run([sys.executable, '-m', 'trainer.app.cli', *map(str, args)],
                 check=True)
  return time.monotonic() - start


def prepare(kind, images, image_size, work_dir):
  raw, records = os.path.join(work_dir, 'raw'), os.path.join(work_dir, 'rec')
  vqa('sample-data', '--output', raw, '--kind', kind, '--images-per-split',
      images, '--image-size', image_size)
  vqa('preprocess', '--data-dir', raw, '--output', records, '--image-size',
      image_size, '--top-answers', TOP_ANSWERS[kind])
  return records


def train_models(records, work_dir, epochs=None):
  """{name: (MODEL_DIR, seconds)} for every model, with the defaults
  (and `epochs` for every model when given)."""
  path = lambda name: os.path.join(work_dir, name)
  epoch_flags = ('--epochs', epochs) if epochs else ()
  common = ('--data', records, '--image-weights', 'none') + epoch_flags
  models = {}
  models['question-only'] = (path('question_only'), vqa(
      'train', *common, '--output', path('question_only'), '--architecture',
      'question-only'))
  models['teacher'] = (path('teacher'), vqa('train', *common, '--output',
                                             path('teacher')))
  models['student'] = (path('student'), vqa(
      'distill', '--data', records, '--teacher', path('teacher'), '--output',
      path('student'), *epoch_flags))
  models['student alone'] = (path('student_alone'), vqa(
      'distill', '--data', records, '--alpha', '1', '--output',
      path('student_alone'), *epoch_flags))
  return models


def score(model_dir, records):
  """(VQA accuracy on val2014's written questions, with moved images)."""
  # Imported here: the training subprocesses must not share this process's
  # TensorFlow.
  from trainer.measure import image_check  # pylint: disable=g-import-not-at-top
  from trainer.data import input_pipeline  # pylint: disable=g-import-not-at-top
  from trainer.models import model_io  # pylint: disable=g-import-not-at-top
  from trainer.models import inference  # pylint: disable=g-import-not-at-top
  spec = input_pipeline.read_data_spec(records)
  loaded = model_io.load_model(model_dir)
  logits_of = inference.loaded_logits(loaded)
  if not loaded.uses_image:
    from trainer.measure import evaluate  # pylint: disable=g-import-not-at-top
    arrays, _ = evaluate.collect_predictions(logits_of, spec, 'val2014', 64,
                                             uses_image=False)
    accuracy = float(evaluate.vqa_scores(arrays, arrays['predicted']).mean())
    return accuracy, accuracy
  check = image_check.measure(logits_of, spec, 'val2014', 64)
  return check['vqa_accuracy'], check['vqa_accuracy_shuffled_images']


def reference(records, epochs):
  """(accuracy, with moved images, seconds) of benchmarks/reference_cnn.py,
  trained in this process after the subprocesses, at `vqa train`'s epochs,
  batch and learning rate."""
  # pylint: disable=g-import-not-at-top
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  import reference_cnn
  from trainer.data import input_pipeline
  from trainer.fit import defaults
  from trainer.fit import train_config
  from trainer.measure import image_check
  # pylint: enable=g-import-not-at-top
  config = train_config.TrainConfig()
  start = time.monotonic()
  _, logits_of = reference_cnn.train_reference(
      records, epochs or config.epochs, config.batch_size,
      defaults.auto_learning_rate(config.batch_size))
  seconds = time.monotonic() - start
  check = image_check.measure(logits_of, input_pipeline.read_data_spec(records),
                              'val2014', 64)
  return (check['vqa_accuracy'], check['vqa_accuracy_shuffled_images'],
          seconds)


def majority(records):
  from trainer.measure import evaluate  # pylint: disable=g-import-not-at-top
  from trainer.data import input_pipeline  # pylint: disable=g-import-not-at-top
  spec = input_pipeline.read_data_spec(records)
  arrays, _ = evaluate.collect_predictions(
      lambda inputs: np.zeros((len(inputs['input_ids']), spec.num_answers)),
      spec, 'val2014', 256, uses_image=False)
  return float(evaluate.vqa_scores(arrays, arrays['predicted']).mean())


def table(kind, images, image_size, rows):
  lines = [f'{kind}, {images} images per split, {image_size} px',
           '| model | VQA accuracy (val2014, written) | with moved images | '
           'gap | command s |', '|---|---|---|---|---|']
  for name, (accuracy, moved, seconds) in rows.items():
    lines.append(f'| {name} | {accuracy:.4f} | {moved:.4f} | '
                 f'{accuracy - moved:.4f} | {seconds:.0f} |')
  return '\n'.join(lines)


def targets(rows):
  teacher, question_only = rows['teacher'][0], rows['question-only'][0]
  student, plain = rows['student'][0], rows['reference'][0]
  margin, behind, share = teacher - question_only, plain - teacher, (
      student / teacher)
  met = lambda ok: 'met' if ok else 'NOT met'
  return [
      f'teacher - question-only = {margin:.4f} (target >= {TEACHER_MARGIN}): '
      + met(margin >= TEACHER_MARGIN),
      f'reference - teacher = {behind:.4f} (target <= {REFERENCE_SLACK}): '
      + met(behind <= REFERENCE_SLACK),
      f'student / teacher = {share:.3f} (target >= {STUDENT_SHARE}): '
      + met(share >= STUDENT_SHARE)]


def bench_family(kind, config, work_dir):
  """{row name: (accuracy, with moved images, seconds)} for one family."""
  image_size = config.image_size or FAMILY_IMAGE_SIZES[kind]
  records = prepare(kind, config.images, image_size, work_dir)
  trained = train_models(records, work_dir, config.epochs)
  rows = {'majority answer': (majority(records),) * 2 + (0.0,)}
  for name, (model_dir, seconds) in trained.items():
    rows[name] = score(model_dir, records) + (seconds,)
  rows['reference'] = reference(records, config.epochs)
  print(table(kind, config.images, image_size, rows))
  print('\n'.join(targets(rows)), flush=True)
  with open(os.path.join(work_dir, 'defaults_bench.json'), 'w') as f:
    json.dump({name: list(row) for name, row in rows.items()}, f, indent=1)
  return rows


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument('--kind', choices=sorted(TOP_ANSWERS) + ['all'],
                      default='all')
  parser.add_argument('--images', type=int, default=1600)
  parser.add_argument('--image-size', type=int, default=0,
                      help='default: the family\'s, FAMILY_IMAGE_SIZES')
  parser.add_argument('--work-dir', default='')
  parser.add_argument('--epochs', type=int, default=None,
                      help='epochs of every model (default: each job\'s)')
  config = parser.parse_args(argv)
  work_dir = config.work_dir or tempfile.mkdtemp(prefix='defaults_bench_')
  kinds = sorted(TOP_ANSWERS) if config.kind == 'all' else [config.kind]
  for kind in kinds:
    bench_family(kind, config, os.path.join(work_dir, kind))
  return 0


if __name__ == '__main__':
  sys.exit(main())
