"""The options of a sweep (how to search, where to run), without heavy imports.

The trainer settings of the trials are not here: they are the trainer's own
config (DistillConfig, PruneConfig), passed to the sweep as its `base`.
"""
import dataclasses
import os

from trainer.contract import errors

SEARCHES = ('optuna', 'random', 'grid')
SCHEDULERS = ('asha', 'fifo')
RAY_DIR = 'ray'
DEFAULT_DASHBOARD_HOST = '127.0.0.1'
DEFAULT_DASHBOARD_PORT = 8265

# What trials report (tuning.reporting) and the scheduler and searcher use.
METRIC = 'val_vqa_accuracy'  # maximised
MODE = 'max'
TIME_ATTR = 'epoch'  # 1-based epochs: what ASHA's rungs count
FINAL = 'final'  # 1 in the report made after the trainer returned


@dataclasses.dataclass(frozen=True)
class SweepOptions:
  """How to search and where to run; the trainer settings are in `base`."""
  output: str = dataclasses.field(default='', metadata={
      'required': True, 'folder': True, 'metavar': 'DIR',
      'help': "SWEEP_DIR (local or gs://): results, plot, best config, and "
              "Ray's experiment unless --storage-path"})
  name: str = dataclasses.field(default='', metadata={
      'help': 'Ray experiment name (default: the sweep kind)'})
  # trials (optuna, random); a grid has its own count
  num_samples: int = dataclasses.field(default=8, metadata={
      'help': 'trials (optuna, random)'})
  max_epochs: int = dataclasses.field(default=4, metadata={
      'help': 'epochs of a trial that is not stopped early'})
  search: str = dataclasses.field(default='optuna', metadata={
      'choices': SEARCHES})
  grid_points: int = dataclasses.field(default=3, metadata={
      'help': 'values per searched setting with --search grid'})
  # distillation: also the student's width and learning rate
  search_student: bool = dataclasses.field(default=False, metadata={
      'help': "also search the student's width and learning rate"})
  scheduler: str = dataclasses.field(default='asha', metadata={
      'choices': SCHEDULERS,
      'help': 'asha stops poor trials; fifo runs all to the end'})
  grace_period: int = dataclasses.field(default=1, metadata={
      'help': 'ASHA: epochs before a trial can be stopped'})
  reduction_factor: float = 2  # ASHA: 1/reduction_factor go on at each rung
  cpus_per_trial: float = 1.0
  gpus_per_trial: float = dataclasses.field(default=0.0, metadata={
      'help': 'fractions (e.g. 0.25) share a GPU between trials'})
  max_concurrent_trials: int = dataclasses.field(default=0, metadata={
      'help': '0: as many as the resources allow'})
  storage_path: str = dataclasses.field(default='', metadata={
      'help': 'Ray results, local or gs:// (default SWEEP_DIR/ray); shared '
              'storage on a cluster'})
  resume: bool = dataclasses.field(default=False, metadata={
      'help': 'continue the interrupted sweep (Tuner.restore)'})
  max_failures: int = dataclasses.field(default=1, metadata={
      'help': 'retries of a failed trial'})
  address: str = dataclasses.field(default='', metadata={
      'help': 'an existing Ray cluster (e.g. auto or HEAD:6379); default: '
              'start a local Ray'})
  num_cpus: int = dataclasses.field(default=0, metadata={
      'help': 'CPUs of the local Ray (0: all)'})
  dashboard: bool = dataclasses.field(default=False, metadata={
      'help': 'start the Ray dashboard with the local Ray'})
  dashboard_host: str = dataclasses.field(
      default=DEFAULT_DASHBOARD_HOST, metadata={
          'help': 'where the dashboard listens (warns unless loopback)'})
  dashboard_port: int = DEFAULT_DASHBOARD_PORT
  seed: int = dataclasses.field(default=0, metadata={
      'flag': '--search-seed', 'help': 'of the searcher'})
  # pruning: see results.best_prune_row
  accuracy_tolerance: float = dataclasses.field(default=0.01, metadata={
      'help': 'best config: the smallest Pareto model at most this far below '
              'the top accuracy'})
  verbose: int = dataclasses.field(default=1, metadata={
      'flag': '--tune-verbose', 'choices': (0, 1, 2),
      'help': 'Ray Tune progress output'})

  @property
  def storage(self):
    """Ray's storage path: absolute when local (Ray requires it)."""
    path = self.storage_path or os.path.join(self.output, RAY_DIR)
    return path if '://' in path else os.path.abspath(path)

  def experiment(self, kind):
    return self.name or kind

  def check(self):
    if not self.output:
      raise errors.UserError('--output SWEEP_DIR is required')
    if self.search not in SEARCHES:
      raise errors.UserError(f'--search {self.search!r}: one of {SEARCHES}')
    if self.scheduler not in SCHEDULERS:
      raise errors.UserError(f'--scheduler {self.scheduler!r}: one of '
                       f'{SCHEDULERS}')
    for name in ('num_samples', 'max_epochs', 'grace_period'):
      if getattr(self, name) < 1:
        raise errors.UserError(f'--{name.replace("_", "-")} must be >= 1')
    if self.grid_points < 2:
      raise errors.UserError('--grid-points must be >= 2')
    if self.cpus_per_trial <= 0 or self.gpus_per_trial < 0:
      raise errors.UserError('--cpus-per-trial must be > 0, --gpus-per-trial >= 0')
    if self.reduction_factor <= 1:
      raise errors.UserError('--reduction-factor must be > 1')
