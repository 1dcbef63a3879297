"""The report's table: its columns, ratios to the baseline, and the
report.md / report.json / report.csv files."""
import csv
import dataclasses
import io
import os

import tensorflow as tf

from trainer.measure import evaluate
from trainer.measure import markdown
from trainer.models import model_io

REPORT_FILES = ('report.md', 'report.json', 'report.csv')


@dataclasses.dataclass(frozen=True)
class Column:
  """One column of the table: its key in json/csv and what it means."""
  name: str
  description: str
  format: str = ''  # format spec for report.md; '' = str()


@dataclasses.dataclass(frozen=True)
class Ratio:
  """A column relative to the baseline row: value / baseline (or inverse)."""
  name: str
  of: str
  description: str
  inverse: bool = False  # baseline / value, e.g. speed-up from latency


def answer_type_column(answer_type):
  return 'vqa_' + answer_type.replace('/', '_')


# The table.


def figure_columns(latency_batches):
  """The measured columns, in table order."""
  columns = [
      Column('model', 'the NAME given in --models'),
      Column('format', 'keras (a MODEL_DIR) or tflite (a .tflite file)'),
      Column('parameters', 'weights in the model (TFLite: those of the Keras '
             'model in the MODEL_DIR holding MODEL_DIR/tflite/, else -)', ',d'),
      Column('nonzero_parameters', 'weights that are not exactly zero', ',d'),
      Column('file_bytes', 'raw bytes of the saved weights '
             '(MODEL_DIR/model/weights.*) or of the .tflite file', ',d'),
      Column('gzip_bytes', 'the same file(s) gzip-compressed (level 9)', ',d'),
      Column('tflite_bytes', 'bytes of MODEL_DIR/tflite/model-none.tflite '
             'when exported (the file itself for a TFLite row)', ',d'),
      Column('bundle_bytes', 'bytes on disk of the LiteRT bundle beside a '
             '.tflite file (MODEL_DIR/tflite/bundle-QUANTIZE: the file, '
             'tokenizer.json, answers, README)', ',d'),
      Column('vqa_written', 'official VQA accuracy over every question '
             'written for the split', '.4f'),
      Column('vqa_kept', 'VQA accuracy over the questions whose answer is in '
             'the vocabulary', '.4f')]
  columns += [Column(answer_type_column(answer_type),
                     f'VQA accuracy (written) on {answer_type} questions',
                     '.4f') for answer_type in evaluate.ANSWER_TYPES]
  columns.append(Column('top1', 'top-1 answer accuracy (kept questions)',
                        '.4f'))
  columns.append(Column('vqa_shuffled_images', 'image-branch check: '
                        'vqa_written with the images moved among the '
                        'questions of each batch (close to vqa_written: the '
                        'model ignores the image; - without image)', '.4f'))
  for batch in latency_batches:
    columns += [
        Column(f'ms_per_example_b{batch}', f'mean latency per example at '
               f'batch {batch}, in milliseconds', '.3f'),
        Column(f'examples_per_s_b{batch}', f'examples per second at batch '
               f'{batch}', ',.0f')]
  columns.append(Column(
      'ms_with_inputs_b1', 'latency of one question from its JPEG and text, '
      'input processing included: MODEL_DIR/export (the SavedModel) or the '
      'LiteRT bundle beside a .tflite file (tokenizers, Pillow), in '
      'milliseconds', '.3f'))
  return columns


def ratio_columns(latency_batches):
  """The columns relative to the baseline row, in table order."""
  ratios = [
      Ratio('file_size_ratio', 'file_bytes', 'file_bytes / baseline'),
      Ratio('gzip_size_ratio', 'gzip_bytes', 'gzip_bytes / baseline'),
      Ratio('parameter_ratio', 'parameters', 'parameters / baseline'),
      Ratio('nonzero_parameter_ratio', 'nonzero_parameters',
            'nonzero_parameters / baseline'),
      Ratio('vqa_accuracy_ratio', 'vqa_written', 'vqa_written / baseline'),
      Ratio('vqa_kept_ratio', 'vqa_kept', 'vqa_kept / baseline'),
      Ratio('top1_ratio', 'top1', 'top1 / baseline')]
  ratios += [Ratio(f'speedup_b{batch}', f'ms_per_example_b{batch}',
                   f'baseline latency / latency at batch {batch} (> 1: '
                   'faster than the baseline)', inverse=True)
             for batch in latency_batches]
  return ratios


def _ratio(value, baseline, inverse):
  if value is None or baseline is None:
    return None
  numerator, denominator = (baseline, value) if inverse else (value, baseline)
  return float(numerator / denominator) if denominator else None


def build_table(rows, baseline_name, latency_batches):
  """The rows with every ratio to the baseline row added, in input order."""
  baseline = next(row for row in rows if row['model'] == baseline_name)
  table = []
  for row in rows:
    ratios = {ratio.name: _ratio(row[ratio.of], baseline[ratio.of],
                                 ratio.inverse)
              for ratio in ratio_columns(latency_batches)}
    table.append(dict(row, **ratios))
  return table


def column_names(latency_batches):
  return ([column.name for column in figure_columns(latency_batches)] +
          [ratio.name for ratio in ratio_columns(latency_batches)])


def _cell(value, number_format):
  if value is None:
    return '-'
  return format(value, number_format) if number_format else str(value)


def _markdown_table(table, columns):
  return markdown.table_lines(
      [column.name for column in columns],
      [[_cell(row[column.name], column.format) for column in columns]
       for row in table],
      right_aligned=[column.name for column in columns if column.format])


def format_markdown(report):
  """report.md: the figures, the ratios to the baseline and a legend."""
  batches = report['config']['latency_batches']
  ratios = [Column('model', '')] + [Column(ratio.name, ratio.description,
                                           '.3f')
                                    for ratio in ratio_columns(batches)]
  lines = [f'# Model report: {report["config"]["split"]} of '
           f'{report["config"]["data"]}', '',
           f'Measured on {report["machine"]}; latency: mean of '
           f'{report["config"]["latency_repeats"]} calls after one warm-up.',
           '']
  lines += _markdown_table(report['models'], figure_columns(batches))
  lines += ['', f'Relative to the baseline, {report["baseline"]}:', '']
  lines += _markdown_table(report['models'], ratios)
  lines += ['', 'Columns ("-": not available):', '']
  lines += [f'- `{column.name}`: {column.description}'
            for column in figure_columns(batches) + ratios[1:]]
  return '\n'.join(lines) + '\n'


# Files.


def _csv_text(table, columns):
  buffer = io.StringIO()
  writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction='ignore',
                          lineterminator='\n')
  writer.writeheader()
  writer.writerows(table)
  return buffer.getvalue()


def write_report(report, output_dir):
  """Writes report.md, report.json and report.csv; returns their paths."""
  tf.io.gfile.makedirs(output_dir)
  md_path, json_path, csv_path = (os.path.join(output_dir, name)
                                  for name in REPORT_FILES)
  model_io.write_file(format_markdown(report).encode(), md_path)
  model_io.write_json(report, json_path)
  columns = column_names(report['config']['latency_batches'])
  model_io.write_file(_csv_text(report['models'], columns).encode(),
                      csv_path)
  return [md_path, json_path, csv_path]
