"""Launching a sweep: Ray (local or an existing cluster), the Tuner, results.

  run_distill_sweep(base: DistillConfig, options: SweepOptions) -> SweepResults
  run_prune_sweep(base: PruneConfig, options: SweepOptions) -> SweepResults

`base` is the trainer's own config for everything that is not searched
(data, teacher or model, student sizes, batch size, steps); each trial calls
`distill.distill` / `prune.prune` on `base` with one point of the search
space (tuning.spaces) and reports through tuning.reporting. ASHA stops poor
trials at its rungs; Optuna (or random / grid) proposes the next points.

Layout of SWEEP_DIR (options.output; local or gs://):
  results.csv, results.md, results.png, best_config.json
  teacher_logits/          (distillation) the teacher's logits, once per sweep
  ray/NAME/                (default storage path) Ray's experiment: one
                           directory per trial with its results, checkpoints
                           and model/ (the trainer's output, TensorBoard logs)
"""
import contextlib
import dataclasses
import os
import sys
import time

# Before TensorFlow (imported by the trainer modules below).
import trainer  # pylint: disable=unused-import,g-bad-import-order
import ray
from ray import tune
from ray.tune.logger import CSVLoggerCallback
from ray.tune.logger import JsonLoggerCallback
from ray.tune.schedulers import ASHAScheduler
from ray.tune.schedulers import FIFOScheduler
from ray.tune.search.basic_variant import BasicVariantGenerator
from ray.tune.search.optuna import OptunaSearch

from trainer.contract import errors
from trainer.fit import teacher_logits
from trainer.data import input_pipeline
from trainer.fit import fit_setup
from tuning import dashboard
from tuning.options import SweepOptions  # pylint: disable=unused-import
from tuning import reporting
from tuning import results
from tuning import spaces
from tuning import trials

TEACHER_LOGITS_DIR = 'teacher_logits'
# Every process of the sweep needs these before it imports TensorFlow.
# A reused actor waits for the stopped trial's thread to reach its next
# report (the end of its epoch) before starting the next trial; Ray's default
# of 2 s fails the new trial whenever an epoch is longer than that.
WORKER_ENV = {'TF_USE_LEGACY_KERAS': '1', 'TF_CPP_MIN_LOG_LEVEL': '2',
              'TUNE_FUNCTION_THREAD_TIMEOUT_S': '3600'}


@dataclasses.dataclass
class SweepResults:
  """What a sweep leaves: the table, the chosen trial and the files."""
  table: object  # pandas.DataFrame, one row per trial, best first
  best: dict  # the chosen row of the table
  best_config: object  # DistillConfig or PruneConfig of the chosen trial
  paths: dict  # 'csv', 'markdown', 'plot', 'best_config'
  experiment_path: str  # Ray's experiment (resume it with options.resume)
  seconds: float  # wall-clock time of the sweep (driver)


# --- Ray --------------------------------------------------------------------

def runtime_env(options):
  """Environment of the sweep's Ray workers.

  On an existing cluster the project's packages travel with the job, so
  the trials run this checkout's trainer (the cluster still needs the
  dependencies: `pip install .[tune]` in its image).
  """
  env = {'env_vars': dict(WORKER_ENV)}
  if options.address:
    import tuning  # pylint: disable=g-import-not-at-top
    env['py_modules'] = [trainer, tuning]
  return env


def start_ray(options, out=sys.stdout):
  """Connects to options.address or starts a local Ray.

  A Ray already initialised in this process (a test session, a notebook)
  is used as it is.

  Returns:
    Ray's context (with .dashboard_url), or None when Ray was already up.
  """
  if ray.is_initialized():
    return None
  if options.address:
    context = ray.init(address=options.address,
                       runtime_env=runtime_env(options))
  else:
    warning = (dashboard.exposure_warning(options.dashboard_host)
               if options.dashboard else '')
    if warning:
      print(warning, file=sys.stderr, flush=True)
    context = ray.init(num_cpus=options.num_cpus or None,
                       include_dashboard=options.dashboard,
                       dashboard_host=options.dashboard_host,
                       dashboard_port=options.dashboard_port,
                       runtime_env=runtime_env(options))
  if context.dashboard_url:
    dashboard.print_instructions(dashboard.url_of(context.dashboard_url),
                                 file=out)
  return context


@contextlib.contextmanager
def ray_session(options):
  """Ray for the duration of a sweep; shut down only if this started it."""
  context = start_ray(options)
  try:
    yield
  finally:
    if context is not None:
      ray.shutdown()


# --- the Tuner --------------------------------------------------------------

def make_scheduler(options):
  """ASHA over epochs (metric and mode come from TuneConfig), or FIFO.

  ASHA's rungs stop strictly before the last epoch: a trial that gets there
  runs to its end, so the trainer saves its model and the final summary is
  reported (ASHA puts a rung at max_t itself when max_t is a power of the
  reduction factor, and a stop there would save nothing). With one epoch
  there is nothing to stop early.
  """
  last_rung = options.max_epochs - 1
  if options.scheduler == 'fifo' or last_rung < 1:
    return FIFOScheduler()
  return ASHAScheduler(time_attr=reporting.TIME_ATTR, max_t=last_rung,
                       grace_period=min(options.grace_period, last_rung),
                       reduction_factor=options.reduction_factor,
                       stop_last_trials=False)


def make_searcher(options, default_point):
  """Optuna (TPE), or random / grid sampling of the space's domains.

  Optuna and random search try the hand-picked `default_point` first, so
  every sweep measures what it gains over the default.
  """
  if options.search == 'optuna':
    return OptunaSearch(points_to_evaluate=[default_point],
                        seed=options.seed)
  # TuneConfig.max_concurrent_trials is ignored (with a warning) for
  # Ray's own generator: it takes the limit itself.
  limit = options.max_concurrent_trials
  if options.search == 'random':
    return BasicVariantGenerator(points_to_evaluate=[default_point],
                                 max_concurrent=limit,
                                 random_state=options.seed)
  return BasicVariantGenerator(max_concurrent=limit)


def _trainable(trial_function, options, **parameters):
  """The trial function with its fixed arguments and resources bound."""
  bound = tune.with_parameters(trial_function, **parameters)
  return tune.with_resources(bound, {'cpu': options.cpus_per_trial,
                                     'gpu': options.gpus_per_trial})


def _tuner(trainable, param_space, options, kind, default_point, callbacks):
  tune_config = tune.TuneConfig(
      metric=reporting.METRIC, mode=reporting.MODE,
      search_alg=make_searcher(options, default_point),
      scheduler=make_scheduler(options),
      num_samples=1 if options.search == 'grid' else options.num_samples,
      max_concurrent_trials=(options.max_concurrent_trials or None
                             if options.search == 'optuna' else None),
      # A trial's process imports TensorFlow and the trainer (seconds);
      # reused actors pay it once.
      reuse_actors=True)
  # Ray's CSV and JSON loggers; its automatic TensorBoard one is off
  # (tune_trainable).
  loggers = [CSVLoggerCallback(), JsonLoggerCallback()]
  run_config = tune.RunConfig(
      name=options.experiment(kind), storage_path=options.storage,
      failure_config=tune.FailureConfig(max_failures=options.max_failures),
      # Ray snapshots the experiment each time a trial has replaced its
      # num_to_keep checkpoints (so a resume never points at a deleted one).
      checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
      callbacks=loggers + list(callbacks), verbose=options.verbose)
  return tune.Tuner(trainable, param_space=param_space,
                    tune_config=tune_config, run_config=run_config)


def tune_trainable(trainable, param_space, options, kind, default_point,
                   callbacks=()):
  """Runs (or, with options.resume, continues) a sweep; returns its ResultGrid.

  Args:
    trainable: a Ray Tune function trainable, resources bound.
    param_space: the search space (tuning.spaces).
    options: SweepOptions.
    kind: 'distill' or 'prune': the default experiment name.
    default_point: the hand-picked settings, tried first.
    callbacks: more ray.tune.Callback objects (e.g. for tests).
  """
  with _sweep_environment():
    return _fit_or_resume(trainable, param_space, options, kind,
                          default_point, callbacks)


# For this sweep only (restored after it: any other Tuner in the process, a
# test's or a user's, keeps Ray's automatic result.json and progress.csv).
SWEEP_ENV = {
    # Short epochs make those snapshots frequent; Ray warns about each burst.
    'TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S': '0',
    # No automatic TensorBoard logger: each trial's HParams record is the
    # trainer's (trials.hparams_callback, beside its TensorBoard logs); with
    # both, TensorBoard listed every trial twice. _tuner adds the other two.
    'TUNE_DISABLE_AUTO_CALLBACK_LOGGERS': '1'}


@contextlib.contextmanager
def _sweep_environment():
  previous = {name: os.environ.get(name) for name in SWEEP_ENV}
  os.environ.update(SWEEP_ENV)
  try:
    yield
  finally:
    for name, value in previous.items():
      if value is None:
        os.environ.pop(name, None)
      else:
        os.environ[name] = value


def _fit_or_resume(trainable, param_space, options, kind, default_point,
                   callbacks):
  path = os.path.join(options.storage, options.experiment(kind))
  exists = tune.Tuner.can_restore(path)
  if options.resume:
    if not exists:
      raise errors.UserError(f'--resume: no sweep to resume in {path}')
    # Finished trials keep their results; unfinished and failed ones go on
    # from their last checkpoint (and the trainer's BackupAndRestore state).
    tuner = tune.Tuner.restore(path, trainable, resume_unfinished=True,
                               resume_errored=True, param_space=param_space)
  elif exists:
    raise errors.UserError(f'a sweep already exists in {path}: pass --resume to '
                     'continue it, or choose another --output / --name')
  else:
    tuner = _tuner(trainable, param_space, options, kind, default_point,
                   callbacks)
  return tuner.fit()


def sweep_base(base, options):
  """`base` as every trial runs it: max_epochs, quiet, no export.

  Trials need no SavedModel (the best config is re-run with export on), and
  do not pay for determinism they cannot keep when trials share a machine.
  """
  return dataclasses.replace(base, epochs=options.max_epochs,
                             deterministic=False, export=False, verbose=0,
                             **absolute_paths(base))


PATH_FIELDS = ('data', 'output', 'teacher', 'model_dir', 'teacher_logits_dir')


def absolute_paths(base):
  """Local paths of `base` made absolute: trials run in other directories."""
  return {name: os.path.abspath(getattr(base, name)) for name in PATH_FIELDS
          if isinstance(getattr(base, name, None), str) and
          getattr(base, name) and '://' not in getattr(base, name)}


# --- the sweeps -------------------------------------------------------------

def precompute_teacher_logits(base):
  """Writes the teacher's logits once, in the driver, for all trials."""
  if not (base.uses_teacher and base.teacher_logits == 'precompute'):
    return
  trials.set_memory_growth()  # the driver must not take the trials' GPU
  spec = input_pipeline.read_data_spec(base.data)
  teacher_logits.teacher_logits_table(base, spec, base.batch_size)


def run_distill_sweep(base, options, callbacks=()):
  """Searches alpha and temperature (and the student's width and rate).

  Args:
    base: trainer.fit.distill.DistillConfig with teacher, data, student sizes,
      batch size, steps...; its output is ignored (each trial writes into
      its own directory), its alpha/temperature are the hand-picked default.
    options: SweepOptions.
    callbacks: more ray.tune.Callback objects.

  Returns:
    SweepResults; the files are in options.output.
  """
  options.check()
  start = time.monotonic()
  base = sweep_base(base, options)
  base = dataclasses.replace(
      base, teacher_logits_dir=base.teacher_logits_dir or os.path.join(
          options.output, TEACHER_LOGITS_DIR))
  base.check()
  space = spaces.distill_space(options, base)
  default_point = spaces.distill_default_point(options, base)
  precompute_teacher_logits(base)
  with ray_session(options):
    trainable = _trainable(trials.distill_trial, options, base=base,
                           storage_path=options.storage,
                           experiment=options.experiment('distill'),
                           cpus=options.cpus_per_trial)
    grid = tune_trainable(trainable, space, options, 'distill',
                          default_point, callbacks)
  table = results.trial_table(grid, list(space), default_point)
  best = results.best_distill_row(table)
  best_config = spaces.distill_config(base, _params(best, space))
  paths = results.write_results(table, list(space), best_config,
                                results.plot_distill(table, best),
                                options.output)
  return SweepResults(table, best.to_dict(), best_config, paths,
                      grid.experiment_path, time.monotonic() - start)


def trial_steps(base, options):
  """Fine-tuning steps of one trial (one replica per trial)."""
  spec = input_pipeline.read_data_spec(base.data)
  return fit_setup.steps_per_epoch(base, spec, base.batch_size) * (
      options.max_epochs)


def run_prune_sweep(base, options, callbacks=()):
  """Searches the final sparsity and the schedule; reports the Pareto front.

  Args:
    base: trainer.fit.prune.PruneConfig with model, data, batch size, steps...;
      its output is ignored, its schedule is the hand-picked default.
    options: SweepOptions (accuracy_tolerance chooses the best config).
    callbacks: more ray.tune.Callback objects.

  Returns:
    SweepResults; the table has a 'pareto' column.
  """
  options.check()
  start = time.monotonic()
  base = sweep_base(base, options)
  base.check()
  total_steps = trial_steps(base, options)
  space = spaces.prune_space(options)
  default_point = spaces.prune_default_point(options, base)
  with ray_session(options):
    trainable = _trainable(trials.prune_trial, options, base=base,
                           storage_path=options.storage,
                           experiment=options.experiment('prune'),
                           cpus=options.cpus_per_trial,
                           total_steps=total_steps)
    grid = tune_trainable(trainable, space, options, 'prune', default_point,
                          callbacks)
  table = results.trial_table(grid, list(space), default_point)
  table['pareto'] = results.pareto_front(table)
  best = results.best_prune_row(table, options.accuracy_tolerance)
  best_config = spaces.prune_config(base, _params(best, space), total_steps)
  paths = results.write_results(table, list(space), best_config,
                                results.plot_prune(table, best),
                                options.output)
  return SweepResults(table, best.to_dict(), best_config, paths,
                      grid.experiment_path, time.monotonic() - start)


def _params(row, space):
  return {name: row[name] for name in space}
