"""`vqa report`: compare models on one split: size, accuracy, latency.

  vqa report --data OUT --split val2014 --output REPORT_DIR
      --models teacher=T_DIR student=S_DIR pruned=P_DIR
               pruned-int8=P_DIR/tflite/model-int8.tflite
      [--baseline teacher] [--latency-batches 1 64] [--latency-repeats 20]

Each NAME=PATH is a MODEL_DIR (a Keras model: teacher, question-only,
student, pruned) or a .tflite file (`vqa export-tflite`). Every model is
measured in this run, on this machine: parameters (non-zero too), the raw and
gzip size of its weights file, the official VQA accuracy (the same code as
`vqa evaluate`) overall and per answer type, top-1 accuracy, and the latency
per example at each --latency-batches size (fixed inputs from the split's
first questions; one warm-up call, then the mean of --latency-repeats calls).
Every figure is also given relative to the baseline model (default: the
first one listed).

Writes REPORT_DIR/report.md, report.json, report.csv, accuracy_vs_size.png
and accuracy_vs_latency.png (the Pareto front drawn as a step line), and
report.html: all of it on one self-contained page (images embedded, opens
offline) with the first --examples questions of the split, their images and
every model's answers.
"""
import argparse
import csv
import dataclasses
import io
import os
import platform
import sys
import time

import numpy as np
import tensorflow as tf

from trainer.measure import evaluate
from trainer.measure import image_check
from trainer.measure import markdown
from trainer.data import input_pipeline
from trainer.models import model_io
from trainer.models import model_specs
from trainer.models import multimodal
from trainer.measure import pareto
from trainer.measure import report_html
from trainer.data import sample_questions
from trainer.measure import sizes

KERAS = 'keras'
TFLITE = 'tflite'
TFLITE_SUFFIX = '.tflite'
REPORT_FILES = ('report.md', 'report.json', 'report.csv')
SIZE_PLOT = 'accuracy_vs_size.png'
LATENCY_PLOT = 'accuracy_vs_latency.png'
EXAMPLE_TOP_K = 3


@dataclasses.dataclass(frozen=True)
class ReportConfig:
  """A report job; written into REPORT_DIR/report.json."""
  data: str = ''
  models: tuple = ()  # ((name, path), ...) in the order given
  output: str = ''
  split: str = 'val2014'
  baseline: str = ''  # '' = the first model
  latency_batches: tuple = (1, 64)
  latency_repeats: int = 20
  batch_size: int = 64  # for the accuracy pass
  examples: int = 4  # questions answered by every model in report.html

  @property
  def baseline_name(self):
    return self.baseline or self.models[0][0]


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


# Parsing and checking the command line.


def check_config(config):
  """Raises ValueError for a config that cannot make a report."""
  names = [name for name, _ in config.models]
  if config.baseline_name not in names:
    raise ValueError(f'--baseline {config.baseline!r} is not one of the '
                     f'--models names {names}')
  batches = config.latency_batches
  if not batches or min(batches) < 1 or len(set(batches)) < len(batches):
    raise ValueError(f'--latency-batches {list(batches)}: give distinct '
                     'batch sizes >= 1')
  if config.latency_repeats < 1:
    raise ValueError('--latency-repeats must be >= 1')
  if config.examples < 0:
    raise ValueError('--examples must be >= 0')
  _require_matplotlib()


def _require_matplotlib():
  try:
    import matplotlib  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError as e:
    raise ValueError('the plots need matplotlib: pip install -e ".[report]"'
                     ) from e


def check_split(spec, split):
  spec.metadata.check_split(split)


def is_tflite(path):
  return path.endswith(TFLITE_SUFFIX)


def _check_answers(model_answers, spec, model_path):
  model_io.check_same_answers(model_answers, model_path, spec.answers,
                              spec.answers_path)


# Latency.


def latency_inputs(spec, split, batch_size, uses_image):
  """Numpy model inputs from the split's first questions, `batch_size` rows.

  A split with fewer questions is repeated to fill the batch.
  """
  dataset = input_pipeline.make_dataset(
      spec, split, batch_size, training=False, deterministic=True,
      for_keras=False, decode_images=uses_image)
  batch = next(iter(dataset))
  inputs, _ = input_pipeline.to_model_inputs(batch)
  rows = np.arange(batch_size) % int(batch['label'].shape[0])
  return {name: value.numpy()[rows] for name, value in inputs.items()}


def seconds_per_call(logits_of, inputs, repeats):
  """Mean wall time of `logits_of(inputs)` after one untimed warm-up call.

  The warm-up pays for tracing (tf.function) or tensor allocation (TFLite).
  """
  logits_of(inputs)
  start = time.perf_counter()
  for _ in range(repeats):
    logits_of(inputs)
  return (time.perf_counter() - start) / repeats


def latency_figures(logits_of, inputs, batch_sizes, repeats):
  """{ms_per_example_bB, examples_per_s_bB} for each batch size B."""
  figures = {}
  for batch_size in batch_sizes:
    batch = {name: value[:batch_size] for name, value in inputs.items()}
    seconds = seconds_per_call(logits_of, batch, repeats)
    figures[f'ms_per_example_b{batch_size}'] = 1000 * seconds / batch_size
    figures[f'examples_per_s_b{batch_size}'] = batch_size / seconds
  return figures


def keras_logits_function(model):
  """Model inputs (arrays or tensors) -> numpy logits, via one tf.function.

  The batch dimension is left open so that the evaluation pass and every
  latency batch size share one trace (a teacher trace costs seconds).
  """
  signature = multimodal.input_signature(model)
  logits_of = tf.function(lambda inputs: model(inputs, training=False),
                          input_signature=[signature])
  return lambda inputs: logits_of(
      {name: tf.convert_to_tensor(inputs[name]) for name in signature}
  ).numpy()


# Measuring one model: one row of the table.


def accuracy_figures(evaluation):
  """The row's accuracy columns from an evaluate.summarize() report."""
  per_type = evaluation['vqa_accuracy_per_answer_type']
  figures = {'vqa_written': evaluation['vqa_accuracy']['written'],
             'vqa_kept': evaluation['vqa_accuracy']['kept']}
  for answer_type in evaluate.ANSWER_TYPES:
    figures[_answer_type_column(answer_type)] = per_type.get(answer_type)
  figures['top1'] = evaluation['top1_accuracy']
  return figures


def shuffled_images_figure(logits_of, spec, config, uses_image):
  """The image-branch check's accuracy with images moved among the
  questions (None for a model without image)."""
  if not uses_image:
    return {'vqa_shuffled_images': None}
  check = image_check.measure(logits_of, spec, config.split,
                              config.batch_size)
  return {'vqa_shuffled_images': check['vqa_accuracy_shuffled_images']}


def _answer_type_column(answer_type):
  return 'vqa_' + answer_type.replace('/', '_')


def float_tflite_bytes(model_dir):
  """Bytes of MODEL_DIR/tflite/model-none.tflite, None if not exported."""
  from trainer.serve import tflite_export  # pylint: disable=g-import-not-at-top
  path = tflite_export.tflite_path(model_dir, 'none')
  return tf.io.gfile.stat(path).length if tf.io.gfile.exists(path) else None


def example_answers(logits_of, examples, uses_image, answers):
  """Each example's top EXAMPLE_TOP_K [(answer, probability)]."""
  if not examples:
    return []
  logits = logits_of(sample_questions.model_inputs(examples, uses_image))
  return sample_questions.top_answers(logits, answers, EXAMPLE_TOP_K)


def measure_keras_model(name, model_dir, spec, config, examples=()):
  """(row, evaluation, example answers) for a MODEL_DIR: sizes, accuracy
  and latency."""
  loaded = model_io.load_model(model_dir)
  _check_answers(loaded.answers, spec, model_dir)
  logits_of = keras_logits_function(loaded.model)
  arrays, rate = evaluate.collect_predictions(
      logits_of, spec, config.split, config.batch_size, loaded.uses_image)
  evaluation = evaluate.summarize(
      arrays, arrays['predicted'],
      evaluate.questions_in_split(spec, config.split), rate)
  weights = sizes.saved_weights_size(model_dir)
  inputs = latency_inputs(spec, config.split, max(config.latency_batches),
                          loaded.uses_image)
  row = dict(model=name, format=KERAS, path=model_dir,
             **sizes.parameter_counts(loaded.model),
             file_bytes=weights['raw_bytes'], gzip_bytes=weights['gzip_bytes'],
             tflite_bytes=float_tflite_bytes(model_dir),
             **accuracy_figures(evaluation),
             **shuffled_images_figure(logits_of, spec, config,
                                      loaded.uses_image),
             **latency_figures(logits_of, inputs, config.latency_batches,
                               config.latency_repeats))
  return row, evaluation, example_answers(logits_of, examples,
                                          loaded.uses_image, spec.answers)


def tflite_parameter_counts(path, spec):
  """Parameter counts of the Keras model whose MODEL_DIR/tflite/ holds `path`.

  A .tflite elsewhere has no Keras model to count: both counts are None
  ('-' in the table). The Keras model's answers are checked on the way.
  """
  from trainer.serve import tflite_export  # pylint: disable=g-import-not-at-top
  model_dir = tflite_export.model_dir_of(path)
  if model_dir is None:
    return {'parameters': None, 'nonzero_parameters': None}
  loaded = model_io.load_model(model_dir)
  _check_answers(loaded.answers, spec, path)
  return sizes.parameter_counts(loaded.model)


def measure_tflite_model(name, path, spec, config, examples=()):
  """(row, evaluation, example answers) for a .tflite file, run with the
  TFLite interpreter."""
  from trainer.serve import tflite_export  # pylint: disable=g-import-not-at-top
  counts = tflite_parameter_counts(path, spec)
  runner = tflite_export.TFLiteRunner(path)
  # Checks the width of the logits against the answer vocabulary first.
  evaluation, _, _ = tflite_export.evaluate_tflite(
      runner, spec, config.split, batch_size=config.batch_size)
  file_size = sizes.file_sizes([path])
  inputs = latency_inputs(spec, config.split, max(config.latency_batches),
                          runner.uses_image)
  row = dict(model=name, format=TFLITE, path=path, **counts,
             file_bytes=file_size['raw_bytes'],
             gzip_bytes=file_size['gzip_bytes'],
             tflite_bytes=file_size['raw_bytes'],
             **accuracy_figures(evaluation),
             **shuffled_images_figure(runner.logits, spec, config,
                                      runner.uses_image),
             **latency_figures(runner.logits, inputs, config.latency_batches,
                               config.latency_repeats))
  return row, evaluation, example_answers(runner.logits, examples,
                                          runner.uses_image, spec.answers)


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
      Column('vqa_written', 'official VQA accuracy over every question '
             'written for the split', '.4f'),
      Column('vqa_kept', 'VQA accuracy over the questions whose answer is in '
             'the vocabulary', '.4f')]
  columns += [Column(_answer_type_column(answer_type),
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


# Plots.


def human_bytes(size, unused_position=None):
  """1234567 -> '1.2 MB' (a tick label)."""
  for unit in ('B', 'kB', 'MB'):
    if size < 1000:
      return f'{size:g} {unit}'
    size /= 1000
  return f'{size:g} GB'


def milliseconds(value, unused_position=None):
  return f'{value:g} ms'


def label_offsets(axes, points, near_pixels=15):
  """Text offsets (in points) that stack the names of points drawn close."""
  axes.autoscale_view()
  pixels = axes.transData.transform(points)
  offsets = []
  for i, pixel in enumerate(pixels):
    near = sum(np.hypot(*(pixel - other)) < near_pixels
               for other in pixels[:i])
    offsets.append((5, 5 - 11 * near))
  return offsets


def plot_tradeoff(table, x_column, x_label, tick_label, path):
  """VQA accuracy against `x_column` (log scale), each point named, and the
  Pareto front as a step line (the best accuracy at each cost)."""
  # pylint: disable=g-import-not-at-top
  from matplotlib import figure as figure_lib
  from matplotlib import ticker
  from matplotlib.backends import backend_agg
  # pylint: enable=g-import-not-at-top
  points = [(row[x_column], row['vqa_written']) for row in table]
  front = [points[i] for i in pareto.pareto_front(points)]
  figure = figure_lib.Figure(figsize=(7, 5), tight_layout=True)
  backend_agg.FigureCanvasAgg(figure)
  axes = figure.subplots()
  axes.scatter(*zip(*points), color='tab:gray', label='model')
  axes.step(*zip(*front), where='post', color='tab:red', label='Pareto front')
  axes.scatter(*zip(*front), color='tab:red', zorder=3)
  axes.set_xscale('log')
  for row, point, offset in zip(table, points, label_offsets(axes, points)):
    axes.annotate(row['model'], point, textcoords='offset points',
                  xytext=offset)
  axes.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
  axes.xaxis.set_major_formatter(ticker.FuncFormatter(tick_label))
  axes.xaxis.set_minor_formatter(ticker.NullFormatter())
  axes.set_xlabel(x_label)
  axes.set_ylabel('VQA accuracy (written questions)')
  axes.grid(True, alpha=0.3)
  axes.legend()
  buffer = io.BytesIO()
  figure.savefig(buffer, format='png', dpi=100)
  model_io.write_file(buffer.getvalue(), path)


def plot_report(table, output_dir, latency_batch):
  """Writes the two trade-off plots; returns their paths."""
  size_path = os.path.join(output_dir, SIZE_PLOT)
  latency_path = os.path.join(output_dir, LATENCY_PLOT)
  plot_tradeoff(table, 'gzip_bytes', 'gzip size (log scale)', human_bytes,
                size_path)
  plot_tradeoff(table, f'ms_per_example_b{latency_batch}',
                f'latency per example at batch {latency_batch} (log scale)',
                milliseconds, latency_path)
  return [size_path, latency_path]


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


def machine_description():
  """Where the latencies were measured: CPU and any GPUs TensorFlow sees."""
  gpus = [tf.config.experimental.get_device_details(gpu).get('device_name',
                                                            gpu.name)
          for gpu in tf.config.list_physical_devices('GPU')]
  cpu = platform.processor() or platform.machine()
  return (f'{platform.system()} {cpu}, {os.cpu_count()} CPUs' +
          (f', GPU: {", ".join(gpus)}' if gpus else ', no GPU') +
          f', TensorFlow {tf.__version__}')


def measure_models(config, spec, examples=()):
  """(rows, evaluations, {model: example answers}) for every model, in the
  order given."""
  rows, evaluations, answers = [], {}, {}
  for name, path in config.models:
    measure = measure_tflite_model if is_tflite(path) else measure_keras_model
    row, evaluations[name], answers[name] = measure(name, path, spec, config,
                                                    examples)
    rows.append(row)
  return rows, evaluations, answers


def example_entries(examples, answers):
  """report['examples']: each question with every model's answers."""
  return [dict(question.summary(), model_answers=[
      {'model': name, 'answers': [list(pair) for pair in model_answers[i]]}
      for name, model_answers in answers.items()])
          for i, question in enumerate(examples)]


def write_html(report, output_dir, plot_paths, examples):
  """Writes report.html; returns its path."""
  batches = report['config']['latency_batches']
  ratios = [Column('model', 'the NAME given in --models')] + [
      Column(ratio.name, ratio.description, '.3f')
      for ratio in ratio_columns(batches)]
  return report_html.write_html(report, output_dir, figure_columns(batches),
                                ratios, plot_paths,
                                [question.image_jpeg for question in examples])


def make_report(config):
  """Measures every model, writes the table files and plots; returns all."""
  check_config(config)
  spec = input_pipeline.read_data_spec(config.data)
  check_split(spec, config.split)
  examples = sample_questions.read_questions(spec, config.split,
                                             config.examples)
  rows, evaluations, answers = measure_models(config, spec, examples)
  report = {
      'config': dataclasses.asdict(config),
      'baseline': config.baseline_name,
      'machine': machine_description(),
      'models': build_table(rows, config.baseline_name,
                            config.latency_batches),
      'evaluations': evaluations,
      'examples': example_entries(examples, answers),
  }
  report['files'] = write_report(report, config.output)
  plots = plot_report(report['models'], config.output,
                      min(config.latency_batches))
  report['files'] += plots
  report['files'].append(write_html(report, config.output, plots, examples))
  return report


def build_parser():
  parser = argparse.ArgumentParser(
      prog='vqa report', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--data', required=True, help='`vqa preprocess` OUT')
  parser.add_argument('--split', default=ReportConfig.split,
                      help='split to measure accuracy and latency on')
  parser.add_argument('--models', nargs='+', required=True,
                      metavar='NAME=PATH',
                      help='MODEL_DIR or .tflite file, one per model')
  parser.add_argument('--output', required=True, help='REPORT_DIR')
  parser.add_argument('--baseline', default='',
                      help='NAME of the reference model (default: the first)')
  parser.add_argument('--latency-batches', nargs='+', type=int,
                      default=list(ReportConfig.latency_batches),
                      metavar='B', help='batch sizes to time (default 1 64)')
  parser.add_argument('--latency-repeats', type=int,
                      default=ReportConfig.latency_repeats,
                      help='timed calls per batch size, after one warm-up')
  parser.add_argument('--batch-size', type=int,
                      default=ReportConfig.batch_size,
                      help='batch size of the accuracy pass')
  parser.add_argument('--examples', type=int, default=ReportConfig.examples,
                      help='questions of the split shown in report.html with '
                      'every model\'s answers')
  return parser


def config_from_args(args):
  return ReportConfig(data=args.data,
                      models=model_specs.parse_model_specs(args.models),
                      output=args.output, split=args.split,
                      baseline=args.baseline,
                      latency_batches=tuple(args.latency_batches),
                      latency_repeats=args.latency_repeats,
                      batch_size=args.batch_size, examples=args.examples)


def main(argv=None):
  argv = sys.argv[1:] if argv is None else list(argv)
  args = build_parser().parse_args(argv)
  try:
    report = make_report(config_from_args(args))
  except (ValueError, FileNotFoundError, KeyError) as e:
    print(f'vqa report: error: {e}', file=sys.stderr)
    return 2
  print(format_markdown(report))
  print('written: ' + ', '.join(report['files']))
  return 0


if __name__ == '__main__':
  sys.exit(main())
