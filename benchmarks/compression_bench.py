"""Compression targets, measured in one `vqa report` run over a demo's models.

  python benchmarks/compression_bench.py --demo-output demo_output
      [--latency-repeats 30]

Runs `make demo` (or `vqa demo`) first: it trains the teacher, the distilled
student, the same student without the teacher and the 80%-pruned student, and
exports the TFLite files. This script measures them all again in the same
process (sizes, accuracy, latency on this machine, in this run) and prints
each target of the compression work with the ratio that decides it.
"""
import argparse
import os
import sys

from trainer.app import demo
from trainer.measure import report
from trainer.measure import tables
from trainer.models import model_specs


def _row(table, name):
  return next(row for row in table if row['model'] == name)


def target_lines(table):
  """[(target, measured, met)] from the report's rows."""
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
  print(tables.format_markdown(measured))
  print(f'{"target":<76}{"measured":>26}  met')
  for target, value, met in target_lines(measured['models']):
    print(f'{target:<76}{value:>26}  {"yes" if met else "NO"}')
  print(f'(full table: {output}/report.md)')
  return 0


if __name__ == '__main__':
  sys.exit(main())
