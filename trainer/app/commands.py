"""Every `vqa` job: its config class, what runs it, and what it prints.

A job's module is imported only when the job runs (or shows its --help), so
`vqa --help` stays fast and one job never pays for another's imports.
"""
import dataclasses
import logging
import os
import time
import typing


@dataclasses.dataclass(frozen=True)
class Job:
  """How the app runs one subcommand.

  Attributes:
    config_class: the job's config dataclass; its fields are the flags.
    run: config -> result (with `pass_on`: (config, arguments passed on)).
    summarize: (result, config) -> exit status, after printing the summary.
    record: config -> the path of the resolved config written after a run,
      or None where the job records its config itself or writes nothing.
    errors: {exception class: exit status} reported as `vqa JOB: error:`,
      besides the user errors every job has.
    skip: config fields that get no flag.
    pass_on: arguments the job's flags do not take -> (those refused, the
      flag names it knows), for jobs that hand the rest to another parser
      (preprocess: Apache Beam's pipeline options); None refuses them all.
    description: the --help text.
  """
  config_class: type
  run: typing.Callable
  summarize: typing.Callable
  record: typing.Callable = None
  errors: dict = dataclasses.field(default_factory=dict)
  skip: tuple = ()
  pass_on: typing.Callable = None
  description: str = None


def _beside(path, name):
  return os.path.join(os.path.dirname(path.rstrip('/')), name)


# --- data -------------------------------------------------------------------

def _print_sample_data(summary, config):
  for split, counts in summary.items():
    print(f'{split}: {counts["images"]} images, {counts["questions"]} '
          f'questions in {config.out_dir}')
  return 0


def sample_data_job():
  from beam_pipelines import sample_data  # pylint: disable=g-import-not-at-top
  from beam_pipelines import sample_photos  # pylint: disable=g-import-not-at-top
  return Job(
      sample_data.SampleDataConfig,
      run=lambda config: sample_data.generate(config.out_dir, config),
      summarize=_print_sample_data,
      record=lambda config: os.path.join(config.out_dir,
                                         'sample_data_config.json'),
      errors={sample_photos.MissingDependencyError: 1},
      description=sample_data.__doc__)


def _run_preprocess(config, beam_args):
  """(metadata, counters, seconds); a failed input file read by a Beam
  worker becomes the ConfigError naming it."""
  from beam_pipelines import beam_run  # pylint: disable=g-import-not-at-top
  from beam_pipelines import cloud_checks  # pylint: disable=g-import-not-at-top
  from beam_pipelines import preprocess  # pylint: disable=g-import-not-at-top
  cloud_checks.check_dataflow_access(
      beam_run.runner_name(beam_args),
      [config.data_dir, config.output, *config.questions.values(),
       *config.annotations.values(), *config.image_dirs.values()])
  logging.getLogger().setLevel(logging.WARNING)
  # Multi-processing workers forward their start-up chatter at WARNING.
  logging.getLogger('apache_beam.runners.portability.local_job_service'
                   ).setLevel(logging.ERROR)
  start = time.monotonic()
  try:
    metadata, counters = preprocess.run_preprocess(config, beam_args)
  except preprocess.ConfigError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    message = preprocess.input_error_message(e)
    if message is None:
      raise
    raise preprocess.ConfigError(message) from e
  return metadata, counters, time.monotonic() - start


def _print_preprocess(outcome, config):
  from beam_pipelines import accounting  # pylint: disable=g-import-not-at-top
  metadata, counters, seconds = outcome
  counts = metadata.counts
  print(accounting.format_summary(counts))
  print(f'images read (Beam counter, all splits): '
        f'{counters.get("images_read", 0)}')
  # A run that does not add up never gets here: check_run raised first.
  print(f'answers: {metadata.answers.num_answers}; output: '
        f'{config.output}; {seconds:.1f} s')
  return 0


def _refused_beam_arguments(arguments):
  from beam_pipelines import beam_run  # pylint: disable=g-import-not-at-top
  return beam_run.refused_arguments(arguments)


def preprocess_job():
  # metadata.json records the config (`config`), so no other file is written.
  from beam_pipelines import preprocess_config  # pylint: disable=g-import-not-at-top
  return Job(preprocess_config.PreprocessConfig, run=_run_preprocess,
             summarize=_print_preprocess, pass_on=_refused_beam_arguments,
             description=preprocess_config.__doc__)


# --- fitting: MODEL_DIR/config.json holds the resolved config ---------------

def _print_train(summary, config):
  val = summary['val']
  print(f'validation: VQA accuracy {val["vqa_accuracy"]:.4f}, top-1 '
        f'{val["top1_accuracy"]:.4f} after {summary["epochs_run"]} epochs '
        f'({summary["train_seconds"]:.1f} s); model in {config.output}')
  return 0


def _train(config):
  from trainer.fit import train  # pylint: disable=g-import-not-at-top
  return train.train_and_evaluate(config)


def train_job():
  from trainer.fit import train_config  # pylint: disable=g-import-not-at-top
  return Job(train_config.TrainConfig, run=_train, summarize=_print_train,
             description=train_config.__doc__)


def _print_distill(summary, config):
  val = summary['val']
  print(f'student: validation VQA accuracy {val["vqa_accuracy"]:.4f}, '
        f'{summary["parameters"]:,} parameters, after {summary["epochs_run"]} '
        f'epochs ({summary["train_seconds"]:.1f} s); model in {config.output}')
  return 0


def _distill(config):
  from trainer.fit import distill  # pylint: disable=g-import-not-at-top
  return distill.distill(config)


def distill_job():
  from trainer.fit import distill_config  # pylint: disable=g-import-not-at-top
  return Job(distill_config.DistillConfig, run=_distill,
             summarize=_print_distill, description=distill_config.__doc__)


def _print_prune(summary, config):
  val, size = summary['val'], summary['size']
  before = summary['unpruned_size']
  print(f'pruned: sparsity {summary["sparsity"]["overall"]:.3f}, validation '
        f'VQA accuracy {val["vqa_accuracy"]:.4f}; weights '
        f'{size["raw_bytes"]:,} B raw, {size["gzip_bytes"]:,} B gzip '
        f'({size["gzip_bytes"] / before["gzip_bytes"]:.2f}x the unpruned '
        f'model\'s gzip size); model in {config.output}')
  return 0


def _prune(config):
  from trainer.fit import prune  # pylint: disable=g-import-not-at-top
  return prune.prune(config)


def prune_job():
  from trainer.fit import prune_config  # pylint: disable=g-import-not-at-top
  # No early stopping: restoring an earlier epoch would undo pruning.
  return Job(prune_config.PruneConfig, run=_prune, summarize=_print_prune,
             skip=('early_stopping_patience',),
             description=prune_config.__doc__)


# --- measuring and serving --------------------------------------------------

def _print_evaluate(evaluation, config):
  from trainer.measure import evaluate  # pylint: disable=g-import-not-at-top
  print(evaluate.format_report(evaluation))
  print(f'metrics: {config.metrics_path}' + (
      f'; results: {config.results}' if config.results else ''))
  return 0


def _evaluate(config):
  from trainer.measure import evaluate  # pylint: disable=g-import-not-at-top
  return evaluate.run(config)


def evaluate_job():
  from trainer.measure import evaluate_config  # pylint: disable=g-import-not-at-top
  return Job(evaluate_config.EvaluateConfig, run=_evaluate,
             summarize=_print_evaluate,
             record=lambda config: _beside(config.metrics_path,
                                           'evaluate_config.json'),
             description=evaluate_config.__doc__)


def _print_tflite(result, config):
  from trainer.measure import tflite_evaluation  # pylint: disable=g-import-not-at-top
  print(tflite_evaluation.format_result(result))
  return 0


def _export_tflite(config):
  from trainer.measure import tflite_evaluation  # pylint: disable=g-import-not-at-top
  return tflite_evaluation.run(config)


def _export_tflite_record(config):
  from trainer.serve import tflite_export  # pylint: disable=g-import-not-at-top
  return _beside(tflite_export.tflite_path(config.model_dir, config.quantize),
                 f'model-{config.quantize}_export_tflite_config.json')


def export_tflite_job():
  from trainer.measure import export_tflite_config  # pylint: disable=g-import-not-at-top
  return Job(export_tflite_config.ExportTFLiteConfig, run=_export_tflite,
             summarize=_print_tflite, record=_export_tflite_record,
             description=export_tflite_config.__doc__)


def _print_predictions(results, config):
  for question, top in results:
    print(question)
    for answer, probability in top:
      print(f'  {probability:6.1%}  {answer}')
  return 0


def _predict(config):
  from trainer.serve import predict_inputs  # pylint: disable=g-import-not-at-top
  # Checked before TensorFlow loads: a wrong file is refused in a second.
  requests, images = predict_inputs.checked_requests(config)
  if config.tflite:  # without TensorFlow
    from trainer.serve import litert_bundle  # pylint: disable=g-import-not-at-top
    return litert_bundle.answer(config.tflite, requests, images)
  from trainer.serve import predict  # pylint: disable=g-import-not-at-top
  return predict.answer(config.model_dir, requests, images)


def predict_job():
  from trainer.serve import predict_config  # pylint: disable=g-import-not-at-top
  return Job(predict_config.PredictConfig, run=_predict,
             summarize=_print_predictions,
             description=predict_config.__doc__)


def _print_report(report_data, config):
  from trainer.measure import tables  # pylint: disable=g-import-not-at-top
  print(tables.format_markdown(report_data))
  print('written: ' + ', '.join(report_data['files']))
  return 0


def _report(config):
  from trainer.measure import report  # pylint: disable=g-import-not-at-top
  return report.make_report(config)


def report_job():
  # REPORT_DIR/report.json records the config.
  from trainer.measure import report_config  # pylint: disable=g-import-not-at-top
  return Job(report_config.ReportConfig, run=_report,
             summarize=_print_report, description=report_config.__doc__)


def _serve(config):
  from trainer.serve import web  # pylint: disable=g-import-not-at-top
  return web.serve(config)


def serve_job():
  from trainer.serve import serve_config  # pylint: disable=g-import-not-at-top
  return Job(serve_config.ServeConfig, run=_serve,
             summarize=lambda unused_result, unused_config: 0,
             description=serve_config.__doc__)


def demo_job():
  from trainer.app import demo  # pylint: disable=g-import-not-at-top
  return Job(demo.DemoConfig, run=demo.run_demo, summarize=demo.print_timings,
             record=lambda config: os.path.join(config.output,
                                                'demo_config.json'),
             description=demo.__doc__)


# subcommand -> (the function giving its Job, one-line help); `vqa tune` has
# two kinds of sweep and its own parser (trainer/app/tune.py).
JOBS = {
    'sample-data': (sample_data_job,
                    'write a sample VQA v2 data set (shapes or photos)'),
    'preprocess': (preprocess_job,
                   'VQA v2 files -> sharded gzip TFRecords (Apache Beam)'),
    'train': (train_job,
              'train the teacher or the question-only baseline (tf.distribute)'),
    'distill': (distill_job, 'distil a trained teacher into a small student'),
    'prune': (prune_job,
              'magnitude pruning (tfmot) with fine-tuning, stripped and sized'),
    'export-tflite': (export_tflite_job,
                      'TFLite conversion (fp32, dynamic-range, int8), '
                      'evaluated with the interpreter'),
    'report': (report_job,
               'compare models: size, accuracy, latency; table and plots'),
    'evaluate': (evaluate_job,
                 'official VQA accuracy of a model, with baselines'),
    'predict': (predict_job,
                'answer a question about a picture with an exported model'),
    'serve': (serve_job,
              'a web page and JSON API asking every exported model at once'),
    'demo': (demo_job, 'the whole flow on generated sample data, timed'),
}
