"""`vqa demo`: the whole flow on generated sample data, timed stage by stage.

  vqa demo --output demo_output

Stages: sample data -> Beam preprocessing (TFRecords + accounting) -> teacher
and question-only baseline training -> evaluation with baselines -> a
prediction from the exported SavedModel -> distillation into a student that
embeds only the training questions' wordpieces (also from the unlabelled
test2015 questions, which only a teacher can label; and the same student
without the teacher) -> 80% pruning of the student -> TFLite conversion
(int8) evaluated with the interpreter, and a LiteRT bundle answering without
TensorFlow -> the comparison report -> Ray Tune sweeps of distillation and
pruning (a few short trials). It ends by printing how to open the models in a
browser (`vqa serve`) and where the report's one-page HTML version is.
"""
import dataclasses
import os
import shutil
import sys
import time

from trainer.app import presets
from trainer.contract import entry_point

MARKER = '.vqa-demo'


@dataclasses.dataclass(frozen=True)
class DemoConfig:
  """What is the demo's own; every job's config comes from the preset."""
  output: str = dataclasses.field(default='demo_output', metadata={
      'metavar': 'DIR', 'help': 'folder of every stage\'s outputs'})
  # The jobs' sizes (presets.py): 'demo' fits in minutes on a 2-core laptop.
  preset: str = dataclasses.field(default='demo', metadata={
      'choices': tuple(presets.PRESETS)})
  images_per_split: int = 800
  seed: int = 0
  # Sweeps: a few short trials of each kind (ASHA stops the poor ones);
  # a trial's epoch is a part of the training split, validated on the first
  # 10 batches (640 questions) of val2014.
  sweep_trials: int = 3
  sweep_epochs: int = 2
  sweep_steps_per_epoch: int = 10
  sweep_validation_steps: int = 10

  def job_config(self, job, config_class, **fields):
    """A job's config: the preset's fields, then `fields`."""
    return presets.job_config(self.preset, job, config_class, **fields)


def _prepare_output(output):
  """Starts from an empty folder; only ever deletes an earlier demo's output."""
  if os.path.exists(output):
    if not os.path.exists(os.path.join(output, MARKER)):
      raise SystemExit(f'vqa demo: {output} exists and is not a demo output; '
                       'choose another --output')
    shutil.rmtree(output)
  os.makedirs(output)
  with open(os.path.join(output, MARKER), 'w') as f:
    f.write('written by vqa demo; deleted by the next vqa demo run\n')


def stage_sample_data(config, paths):
  from beam_pipelines import sample_data  # pylint: disable=g-import-not-at-top
  sample_data.generate(paths['raw'], config.job_config(
      'sample-data', sample_data.SampleDataConfig,
      images_per_split=config.images_per_split, seed=config.seed))
  return f'raw VQA v2 layout in {paths["raw"]}'


def stage_preprocess(config, paths):
  from beam_pipelines import accounting  # pylint: disable=g-import-not-at-top
  from beam_pipelines import preprocess  # pylint: disable=g-import-not-at-top
  preprocess_config = config.job_config(
      'preprocess', preprocess.PreprocessConfig, data_dir=paths['raw'],
      output=paths['tfrecords'])
  # A few thousand questions: the in-memory runner beats multi-processing,
  # whose workers each pay their own start-up.
  metadata, _ = preprocess.run_preprocess(
      preprocess_config, ['--direct_running_mode=in_memory'])
  return (accounting.format_summary(metadata.counts) +
          f'\nTFRecords in {paths["tfrecords"]}')


def _train_config(config, paths, kind):
  from trainer.fit import train  # pylint: disable=g-import-not-at-top
  return config.job_config(
      'train', train.TrainConfig, data=paths['tfrecords'], output=paths[kind],
      model=dict(kind=kind), seed=config.seed, export=(kind == 'teacher'))


def _train_stage(kind):
  def stage(config, paths):
    from trainer.fit import train  # pylint: disable=g-import-not-at-top
    summary = train.train_and_evaluate(_train_config(config, paths, kind))
    return (f'{kind}: validation VQA accuracy '
            f'{summary["val"]["vqa_accuracy"]:.4f} after '
            f'{summary["epochs_run"]} epochs; model in {paths[kind]}')
  return stage


def stage_evaluate(config, paths):
  from trainer.measure import evaluate  # pylint: disable=g-import-not-at-top
  evaluation = evaluate.evaluate(
      paths['teacher'], paths['tfrecords'], 'val2014',
      results_path=os.path.join(paths['teacher'], 'results-val2014.json'),
      question_only_dir=paths['question-only'])
  return evaluate.format_report(evaluation)


def _val_question(paths):
  """(image path, question) of val2014's first question in the raw files."""
  import json  # pylint: disable=g-import-not-at-top
  from beam_pipelines import layout  # pylint: disable=g-import-not-at-top
  with open(os.path.join(paths['raw'],
                         layout.questions_filename('val2014'))) as f:
    question = json.load(f)['questions'][0]
  return (os.path.join(paths['raw'], 'val2014', layout.image_filename(
      'val2014', question['image_id'])), question['question'])


def stage_predict(config, paths):
  from trainer.serve import predict  # pylint: disable=g-import-not-at-top
  serve = predict.load_serving_function(paths['teacher'])
  image, question = _val_question(paths)
  [(text, top)] = predict.predict(serve, [(image, question)])
  lines = [f'vqa predict --model {paths["teacher"]} --image {image} '
           f'--question "{text}"']
  lines += [f'  {probability:6.1%}  {answer}' for answer, probability in top]
  return '\n'.join(lines)


def _distill_config(config, paths, name, alpha):
  from trainer.fit import distill  # pylint: disable=g-import-not-at-top
  return config.job_config(
      'distill', distill.DistillConfig, teacher=paths['teacher'],
      data=paths['tfrecords'], output=paths[name], alpha=alpha,
      seed=config.seed, export=True)


def _distill_stage(name):
  def stage(config, paths):
    from trainer.fit import distill  # pylint: disable=g-import-not-at-top
    from trainer.models import model_io  # pylint: disable=g-import-not-at-top
    alpha = distill.DistillConfig.alpha if name == 'student' else 1.0
    summary = distill.distill(_distill_config(config, paths, name, alpha))
    vocabulary = model_io.read_compact_vocabulary(paths[name])
    return (f'{name} (alpha {alpha}): validation VQA accuracy '
            f'{summary["val"]["vqa_accuracy"]:.4f}, '
            f'{summary["parameters"]:,} parameters; embeds '
            f'{vocabulary.size:,} of the {vocabulary.full_size:,} wordpieces '
            f'(--vocabulary compact: those of its training questions); model '
            f'in {paths[name]}')
  return stage


def _prune_config(config, paths):
  from trainer.fit import prune  # pylint: disable=g-import-not-at-top
  return config.job_config(
      'prune', prune.PruneConfig, model_dir=paths['student'],
      data=paths['tfrecords'], output=paths['pruned'], seed=config.seed,
      export=True)


def stage_prune(config, paths):
  from trainer.fit import prune  # pylint: disable=g-import-not-at-top
  summary = prune.prune(_prune_config(config, paths))
  size, before = summary['size'], summary['unpruned_size']
  return (f'pruned student: sparsity {summary["sparsity"]["overall"]:.3f}, '
          f'validation VQA accuracy {summary["val"]["vqa_accuracy"]:.4f}, '
          f'weights {size["gzip_bytes"]:,} B gzip vs {before["gzip_bytes"]:,} '
          f'B unpruned ({size["gzip_bytes"] / before["gzip_bytes"]:.2f}x)')


def stage_tflite(config, paths):
  from trainer.measure import tflite_evaluation  # pylint: disable=g-import-not-at-top
  from trainer.serve import litert_bundle  # pylint: disable=g-import-not-at-top
  from trainer.serve import predict_inputs  # pylint: disable=g-import-not-at-top
  lines = []
  for name, quantize in (('student', 'none'), ('student', 'int8'),
                         ('pruned', 'int8')):
    result = tflite_evaluation.export_tflite(
        paths[name], paths['tfrecords'], quantize=quantize, split='val2014')
    lines.append(tflite_evaluation.format_result(result))
  # What `vqa predict --tflite` runs, without TensorFlow.
  image, question = _val_question(paths)
  bundle = result['bundle']['path']
  [top] = litert_bundle.LiteRTBundle(bundle).answer(
      [predict_inputs.read_image(image)], [question])
  lines.append(f'vqa predict --tflite {bundle} --image {image} '
               f'--question "{question}"')
  lines += [f'  {probability:6.1%}  {answer}' for answer, probability in top]
  return '\n'.join(lines)


def report_models(paths):
  """NAME=PATH entries of the comparison report, teacher first."""
  from trainer.serve import tflite_export  # pylint: disable=g-import-not-at-top
  return [f'teacher={paths["teacher"]}', f'student={paths["student"]}',
          f'student-alone={paths["student-alone"]}',
          f'pruned={paths["pruned"]}',
          'student-int8=' + tflite_export.tflite_path(paths['student'],
                                                      'int8'),
          'pruned-int8=' + tflite_export.tflite_path(paths['pruned'], 'int8')]


def stage_report(config, paths):
  from trainer.measure import report  # pylint: disable=g-import-not-at-top
  from trainer.measure import tables  # pylint: disable=g-import-not-at-top
  from trainer.models import model_specs  # pylint: disable=g-import-not-at-top
  made = report.make_report(config.job_config(
      'report', report.ReportConfig, data=paths['tfrecords'], split='val2014',
      output=paths['report'],
      models=model_specs.parse_model_specs(report_models(paths))))
  return '\n'.join([tables.format_markdown(made),
                    'written: ' + ', '.join(made['files']),
                    f'report, table and plots in {paths["report"]}'])


def stage_sweeps(config, paths):
  """A small sweep of each kind, sharing one local Ray."""
  import ray  # pylint: disable=g-import-not-at-top
  from trainer.fit import distill  # pylint: disable=g-import-not-at-top
  from trainer.fit import teacher_logits  # pylint: disable=g-import-not-at-top
  from tuning import sweep  # pylint: disable=g-import-not-at-top
  options = lambda kind: sweep.SweepOptions(
      output=paths[f'sweep-{kind}'], num_samples=config.sweep_trials,
      max_epochs=config.sweep_epochs, seed=config.seed, verbose=0)
  steps = dict(steps_per_epoch=config.sweep_steps_per_epoch,
               validation_steps=config.sweep_validation_steps)
  # The distillation sweep reuses the teacher logits of the student's run.
  distill_base = dataclasses.replace(
      _distill_config(config, paths, 'student', distill.DistillConfig.alpha),
      **steps, teacher_logits_dir=os.path.join(
          paths['student'], teacher_logits.LOGITS_DIR))
  prune_base = dataclasses.replace(_prune_config(config, paths), **steps)
  sweep.start_ray(options('distill'))
  try:
    distill_results = sweep.run_distill_sweep(distill_base,
                                              options('distill'))
    prune_results = sweep.run_prune_sweep(prune_base, options('prune'))
  finally:
    ray.shutdown()
  lines = []
  for kind, outcome in (('distill', distill_results),
                        ('prune', prune_results)):
    with open(outcome.paths['markdown']) as f:
      lines.append(f'vqa tune {kind}: {len(outcome.table)} trials in '
                   f'{outcome.seconds:.0f} s\n{f.read()}')
    lines.append(f'best config: {outcome.paths["best_config"]}; plot: '
                 f'{outcome.paths["plot"]}')
  return '\n'.join(lines)


STAGES = (
    ('sample data', stage_sample_data),
    ('preprocess (Beam)', stage_preprocess),
    ('train teacher', _train_stage('teacher')),
    ('train question-only', _train_stage('question-only')),
    ('evaluate', stage_evaluate),
    ('predict', stage_predict),
    ('distill student', _distill_stage('student')),
    ('student without teacher', _distill_stage('student-alone')),
    ('prune student', stage_prune),
    ('TFLite (fp32, int8) and LiteRT bundle', stage_tflite),
    ('report', stage_report),
    ('sweeps (Ray Tune)', stage_sweeps),
)


DIRECTORIES = {'raw': 'raw', 'tfrecords': 'tfrecords', 'teacher': 'teacher',
               'question-only': 'question_only', 'student': 'student',
               'student-alone': 'student_alone', 'pruned': 'student_pruned',
               'report': 'report', 'sweep-distill': 'sweep_distill',
               'sweep-prune': 'sweep_prune'}


def demo_paths(output):
  """Where each stage writes, under the demo's output folder."""
  return {name: os.path.join(output, directory)
          for name, directory in DIRECTORIES.items()}


def serve_models(paths):
  """NAME=PATH entries for `vqa serve`: the exported SavedModels and the
  int8 TFLite files."""
  from trainer.serve import tflite_export  # pylint: disable=g-import-not-at-top
  return [f'teacher={paths["teacher"]}', f'student={paths["student"]}',
          f'pruned={paths["pruned"]}',
          'pruned-int8=' + tflite_export.tflite_path(paths['pruned'], 'int8')]


def next_steps(paths, port=8080):
  """What to look at after the demo: the page and the report."""
  from trainer.measure import report_html  # pylint: disable=g-import-not-at-top
  command = ' \\\n    '.join(
      ['vqa serve --models ' + ' '.join(serve_models(paths)),
       f'--data {paths["tfrecords"]} --split val2014 --port {port}'])
  return '\n'.join([
      'Ask the models in a browser:', f'  {command}',
      f'  then open http://127.0.0.1:{port}/',
      'The report as one page (opens offline): '
      f'{os.path.join(paths["report"], report_html.HTML_FILE)}'])


def run_demo(config):
  """Runs every stage; returns [(stage name, seconds)]."""
  _prepare_output(config.output)
  paths = demo_paths(config.output)
  timings = []
  for name, stage in STAGES:
    print(f'== {name}', flush=True)
    start = time.monotonic()
    print(stage(config, paths), flush=True)
    timings.append((name, time.monotonic() - start))
    print(f'-- {name}: {timings[-1][1]:.1f} s\n', flush=True)
  return timings


def print_timings(timings, config):
  """The stage timings and what to look at next; returns 0."""
  print('stage timings:')
  width = max(len(name) for name, _ in timings) + 2
  for name, seconds in timings:
    print(f'  {name:<{width}}{seconds:7.1f} s')
  print(f'  {"total":<{width}}{sum(s for _, s in timings):7.1f} s')
  print()
  print(next_steps(demo_paths(config.output)))
  return 0


if __name__ == '__main__':
  sys.exit(entry_point.refuse_direct_run('demo', 'trainer.app.demo'))
