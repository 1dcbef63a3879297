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
import dataclasses

from trainer.contract import errors
from trainer.data import input_pipeline
from trainer.data import sample_questions
from trainer.measure import latency
from trainer.measure import measurements
from trainer.measure import plots
from trainer.measure import report_html
from trainer.measure import tables
from trainer.models import model_specs


@dataclasses.dataclass(frozen=True)
class ReportConfig:
  """A report job; written into REPORT_DIR/report.json."""
  data: str = dataclasses.field(default='', metadata={
      'required': True, 'help': '`vqa preprocess` OUT'})
  # ((name, path), ...) in the order given
  models: tuple = dataclasses.field(default=(), metadata={
      'required': True, 'nargs': '+', 'metavar': 'NAME=PATH',
      'parse': model_specs.parse_model_specs,
      'help': 'MODEL_DIR or .tflite file, one per model'})
  output: str = dataclasses.field(default='', metadata={
      'required': True, 'help': 'REPORT_DIR'})
  split: str = dataclasses.field(default='val2014', metadata={
      'help': 'split to measure accuracy and latency on'})
  baseline: str = dataclasses.field(default='', metadata={
      'help': 'NAME of the reference model (default: the first)'})
  latency_batches: tuple = dataclasses.field(default=(1, 64), metadata={
      'metavar': 'B', 'help': 'batch sizes to time'})
  latency_repeats: int = dataclasses.field(default=20, metadata={
      'help': 'timed calls per batch size, after one warm-up'})
  batch_size: int = dataclasses.field(default=64, metadata={
      'help': 'batch size of the accuracy pass'})
  examples: int = dataclasses.field(default=4, metadata={
      'help': "questions of the split shown in report.html with every "
              "model's answers"})

  @property
  def baseline_name(self):
    return self.baseline or self.models[0][0]


# Parsing and checking the command line.


def check_config(config):
  """Raises ValueError for a config that cannot make a report."""
  names = [name for name, _ in config.models]
  if config.baseline_name not in names:
    raise errors.UserError(f'--baseline {config.baseline!r} is not one of the '
                     f'--models names {names}')
  batches = config.latency_batches
  if not batches or min(batches) < 1 or len(set(batches)) < len(batches):
    raise errors.UserError(f'--latency-batches {list(batches)}: give distinct '
                     'batch sizes >= 1')
  if config.latency_repeats < 1:
    raise errors.UserError('--latency-repeats must be >= 1')
  if config.examples < 0:
    raise errors.UserError('--examples must be >= 0')
  plots.require_matplotlib()


def check_split(spec, split):
  spec.metadata.check_split(split)


def example_entries(examples, answers):
  """report['examples']: each question with every model's answers."""
  return [dict(question.summary(), model_answers=[
      {'model': name, 'answers': [list(pair) for pair in model_answers[i]]}
      for name, model_answers in answers.items()])
          for i, question in enumerate(examples)]


def write_html(report, output_dir, plot_paths, examples):
  """Writes report.html; returns its path."""
  batches = report['config']['latency_batches']
  ratios = [tables.Column('model', 'the NAME given in --models')] + [
      tables.Column(ratio.name, ratio.description, '.3f')
      for ratio in tables.ratio_columns(batches)]
  return report_html.write_html(report, output_dir,
                                tables.figure_columns(batches),
                                ratios, plot_paths,
                                [question.image_jpeg for question in examples])


def make_report(config):
  """Measures every model, writes the table files and plots; returns all."""
  check_config(config)
  spec = input_pipeline.read_data_spec(config.data)
  check_split(spec, config.split)
  examples = sample_questions.read_questions(spec, config.split,
                                             config.examples)
  rows, evaluations, answers = measurements.measure_models(config, spec,
                                                           examples)
  report = {
      'config': dataclasses.asdict(config),
      'baseline': config.baseline_name,
      'machine': latency.machine_description(),
      'models': tables.build_table(rows, config.baseline_name,
                                   config.latency_batches),
      'evaluations': evaluations,
      'examples': example_entries(examples, answers),
  }
  report['files'] = tables.write_report(report, config.output)
  plot_paths = plots.plot_report(report['models'], config.output,
                                 min(config.latency_batches))
  report['files'] += plot_paths
  report['files'].append(write_html(report, config.output, plot_paths,
                                    examples))
  return report
