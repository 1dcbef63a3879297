"""The options of a sweep (how to search, where to run), without heavy imports.

The trainer settings of the trials are not here: they are the trainer's own
config (DistillConfig, PruneConfig), passed to the sweep as its `base`.
"""
import dataclasses
import os

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
  output: str = ''  # SWEEP_DIR, local or gs://
  name: str = ''  # Ray experiment name; '' = the sweep kind
  num_samples: int = 8  # trials (optuna, random); a grid has its own count
  max_epochs: int = 4  # epochs of a trial that ASHA never stops
  search: str = 'optuna'
  grid_points: int = 3  # values per searched setting with --search grid
  search_student: bool = False  # distillation: also student width and rate
  scheduler: str = 'asha'  # 'fifo' runs every trial to the end
  grace_period: int = 1  # ASHA: epochs before the first stop decision
  reduction_factor: float = 2  # ASHA: 1/reduction_factor go on at each rung
  cpus_per_trial: float = 1.0
  gpus_per_trial: float = 0.0  # fractions share a GPU (memory growth on)
  max_concurrent_trials: int = 0  # 0: as many as the resources allow
  storage_path: str = ''  # '' = SWEEP_DIR/ray; local or gs://
  resume: bool = False  # continue the interrupted sweep in the storage path
  max_failures: int = 1  # retries of a failed trial (from its checkpoint)
  address: str = ''  # an existing Ray cluster ('auto', 'HOST:6379'); '' = local
  num_cpus: int = 0  # local Ray only; 0 = all
  dashboard: bool = False  # local Ray only: start the dashboard
  dashboard_host: str = DEFAULT_DASHBOARD_HOST
  dashboard_port: int = DEFAULT_DASHBOARD_PORT
  seed: int = 0  # of the searcher
  accuracy_tolerance: float = 0.01  # pruning: see results.best_prune_row
  verbose: int = 1  # Ray Tune's progress output: 0, 1 or 2

  @property
  def storage(self):
    """Ray's storage path: absolute when local (Ray requires it)."""
    path = self.storage_path or os.path.join(self.output, RAY_DIR)
    return path if '://' in path else os.path.abspath(path)

  def experiment(self, kind):
    return self.name or kind

  def check(self):
    if not self.output:
      raise ValueError('--output SWEEP_DIR is required')
    if self.search not in SEARCHES:
      raise ValueError(f'--search {self.search!r}: one of {SEARCHES}')
    if self.scheduler not in SCHEDULERS:
      raise ValueError(f'--scheduler {self.scheduler!r}: one of '
                       f'{SCHEDULERS}')
    for name in ('num_samples', 'max_epochs', 'grace_period'):
      if getattr(self, name) < 1:
        raise ValueError(f'--{name.replace("_", "-")} must be >= 1')
    if self.grid_points < 2:
      raise ValueError('--grid-points must be >= 2')
    if self.cpus_per_trial <= 0 or self.gpus_per_trial < 0:
      raise ValueError('--cpus-per-trial must be > 0, --gpus-per-trial >= 0')
    if self.reduction_factor <= 1:
      raise ValueError('--reduction-factor must be > 1')
