"""The `vqa report` job (its config: report_config.py)."""
import dataclasses
import sys

from trainer.contract import entry_point
from trainer.contract import errors
from trainer.data import input_pipeline
from trainer.data import sample_questions
from trainer.measure import latency
from trainer.measure import measurements
from trainer.measure import plots
from trainer.measure import report_html
from trainer.measure import tables
# The job's config, here too for callers of the job.
from trainer.measure.report_config import ReportConfig  # pylint: disable=unused-import


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


if __name__ == '__main__':
  sys.exit(entry_point.refuse_direct_run('report', 'trainer.measure.report'))
