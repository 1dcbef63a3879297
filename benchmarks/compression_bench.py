"""Compression targets, measured in one `vqa report` run over a demo's models.

  python benchmarks/compression_bench.py --demo-output demo_output
      [--latency-repeats 30]

Runs `make demo` (or `vqa demo`) first: it trains the teacher, the distilled
student (compact vocabulary), the same student without the teacher and the
80%-pruned student, and exports the TFLite files and their LiteRT bundles.
This script measures them all again in the same process (parameters, raw
and gzip bytes, accuracy with the interpreter, latency with and without the
input processing, the bundles' size on disk, on this machine, in this run),
asks the pruned int8 bundle every validation question against the pruned
SavedModel, and prints each target of the compression work with the ratio
that decides it.
"""
import argparse
import dataclasses
import os
import sys
import tempfile

import numpy as np

from trainer.app import demo
from trainer.data import input_pipeline
from trainer.data import sample_questions
from trainer.measure import report
from trainer.measure import sizes
from trainer.measure import tables
from trainer.models import model_io
from trainer.models import model_specs
from trainer.models import student as student_lib
from trainer.serve import litert_bundle
from trainer.serve import predict
from trainer.serve import tflite_export


def _row(table, name):
  return next(row for row in table if row['model'] == name)


def full_vocabulary_weights_bytes(student_dir):
  """Raw bytes of the weights of the same student with the full vocabulary
  (the size depends on the shapes only, so an untrained copy tells it)."""
  saved = model_io.read_saved_config(student_dir)
  config = dataclasses.replace(model_io.saved_student_config(saved),
                               vocabulary='full')
  model = student_lib.build_student(
      config, saved.vocab_size, len(saved.answers), saved.max_question_tokens,
      saved.image_size)
  with tempfile.TemporaryDirectory() as tmp:
    model.save_weights(os.path.join(tmp, model_io.WEIGHTS_PREFIX))
    return sizes.saved_weights_size(tmp)['raw_bytes']


def bundle_agreement(model_dir, bundle_dir, data_dir, split, batch=256):
  """Share of `split`'s questions the bundle answers as MODEL_DIR's
  SavedModel does (same top answer), from the records' JPEGs and texts."""
  spec = input_pipeline.read_data_spec(data_dir)
  questions = sample_questions.read_questions(
      spec, split, input_pipeline.count_examples(spec, split))
  serve = predict.load_serving_function(model_dir)
  bundle = litert_bundle.LiteRTBundle(bundle_dir)
  same = []
  for start in range(0, len(questions), batch):
    chunk = questions[start:start + batch]
    images = [q.image_jpeg for q in chunk]
    texts = [q.question for q in chunk]
    saved = predict.predict(serve, [(None, text) for text in texts], images)
    lite = bundle.answer(images, texts, top_k=1)
    same += [a[1][0][0] == b[0][0] for a, b in zip(saved, lite)]
  return float(np.mean(same)), len(same)


@dataclasses.dataclass(frozen=True)
class Extra:
  """What the report does not measure: the full-vocabulary student's
  weights and the bundle's agreement with the SavedModel."""
  full_vocabulary_bytes: int
  agreement: float
  questions: int


def target_lines(table, extra):
  """[(target, measured, met)] from the report's rows and `extra`."""
  teacher, student = _row(table, 'teacher'), _row(table, 'student')
  alone, pruned = _row(table, 'student-alone'), _row(table, 'pruned')
  pruned_int8 = _row(table, 'pruned-int8')
  accuracy = lambda row: row['vqa_written']
  lines = []

  def add(target, value, met):
    lines.append((target, value, met))

  params = teacher['parameters'] / student['parameters']
  add('student >= 8x fewer parameters than the teacher', f'{params:.1f}x',
      params >= 8)
  for batch in report.ReportConfig().latency_batches:
    speedup = student[f'speedup_b{batch}']
    add(f'student >= 4x faster per example (batch {batch})',
        f'{speedup:.1f}x', speedup >= 4)
  share = accuracy(student) / accuracy(teacher)
  add('student >= 95% of the teacher\'s VQA accuracy',
      f'{share:.1%} ({accuracy(student):.4f} vs {accuracy(teacher):.4f})',
      share >= 0.95)
  add('distilled student beats the same student without the teacher',
      f'{accuracy(student):.4f} vs {accuracy(alone):.4f}',
      accuracy(student) > accuracy(alone))
  gzip_ratio = pruned['gzip_bytes'] / student['gzip_bytes']
  add('pruned (80%) gzip size <= 1/3 of the unpruned student\'s',
      f'{gzip_ratio:.3f}', gzip_ratio <= 1 / 3)
  drop = accuracy(student) - accuracy(pruned)
  add('pruning costs <= 1 point of VQA accuracy',
      f'{100 * drop:.2f} points lost',
      drop <= 0.01)
  for name, size_key in (('raw', 'file_bytes'), ('gzip', 'gzip_bytes')):
    ratio = pruned_int8[size_key] / student['file_bytes']
    add(f'pruned int8 TFLite ({name}) <= 1/10 of the fp32 student\'s saved '
        'size', f'{ratio:.3f}', ratio <= 0.1)
  int8_drop = accuracy(student) - accuracy(pruned_int8)
  add('pruned int8 TFLite (interpreter) within 2 points of the fp32 student',
      f'{100 * int8_drop:.2f} points lost', abs(int8_drop) <= 0.02)
  # Issue 23: the compact vocabulary and the LiteRT bundle.
  add('student (compact vocabulary) >= 20x fewer parameters than the teacher',
      f'{params:.1f}x', params >= 20)
  add('student >= 97% of the teacher\'s VQA accuracy', f'{share:.1%}',
      share >= 0.97)
  ratio = pruned_int8['file_bytes'] / extra.full_vocabulary_bytes
  add('pruned int8 TFLite (raw) <= 1/10 of the full-vocabulary fp32 '
      'student\'s weights', f'{ratio:.3f} ({pruned_int8["file_bytes"]:,} B '
      f'vs {extra.full_vocabulary_bytes:,} B)', ratio <= 0.1)
  add('pruned int8 bundle: the SavedModel\'s top answer on >= 99% of val',
      f'{extra.agreement:.2%} of {extra.questions:,}', extra.agreement >= 0.99)
  return lines


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument('--demo-output', default='demo_output')
  parser.add_argument('--latency-repeats', type=int, default=30)
  args = parser.parse_args(argv)
  paths = demo.demo_paths(args.demo_output)
  output = os.path.join(args.demo_output, 'compression_bench')
  config = report.ReportConfig(
      data=paths['tfrecords'], output=output,
      models=model_specs.parse_model_specs(demo.report_models(paths)),
      latency_repeats=args.latency_repeats)
  measured = report.make_report(config)
  agreement, questions = bundle_agreement(
      paths['pruned'], tflite_export.bundle_path(paths['pruned'], 'int8'),
      paths['tfrecords'], config.split)
  extra = Extra(full_vocabulary_weights_bytes(paths['student']), agreement,
                questions)
  print(tables.format_markdown(measured))
  print(f'{"target":<76}{"measured":>34}  met')
  for target, value, met in target_lines(measured['models'], extra):
    print(f'{target:<76}{value:>34}  {"yes" if met else "NO"}')
  print(f'(full table: {output}/report.md)')
  return 0


if __name__ == '__main__':
  sys.exit(main())
