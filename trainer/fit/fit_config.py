"""FitConfig: the fields every fitting job (train, distill, prune) shares."""
import dataclasses

from trainer.data import targets

LEARNING_RATE_SCHEDULES = ('constant', 'cosine')


@dataclasses.dataclass(frozen=True)
class FitConfig:
  """What every fitting job (train, distill, prune) has; flags of the same
  names. Subclasses add their own fields and may change defaults."""
  data: str = ''
  output: str = ''
  train_split: str = 'train2014'
  val_split: str = 'val2014'
  epochs: int = 10
  batch_size: int = 32  # per replica
  learning_rate: float = 0.0  # 0: chosen for the global batch (defaults.py)
  learning_rate_schedule: str = 'cosine'  # decays to 0; or 'constant'
  loss: str = 'soft'  # 'soft' (VQA soft scores) or 'softmax' (label)
  strategy: str = 'auto'
  early_stopping_patience: int = 3
  steps_per_epoch: int = 0  # 0: one pass over the training split
  validation_steps: int = 0  # 0: the whole validation split
  seed: int = 0
  deterministic: bool = False
  export: bool = True  # write MODEL_DIR/export (the serving SavedModel)
  verbose: int = 1
  # Validation questions scored by the image-branch check after fitting
  # (image_check.py); 0 skips it.
  image_check_questions: int = 8192

  def check_fit(self):
    if self.learning_rate_schedule not in LEARNING_RATE_SCHEDULES:
      raise ValueError(f'--learning-rate-schedule '
                       f'{self.learning_rate_schedule!r}: one of '
                       f'{LEARNING_RATE_SCHEDULES}')
    if self.loss not in targets.LOSSES:
      raise ValueError(f'--loss {self.loss!r}: one of {sorted(targets.LOSSES)}')
    for name in ('epochs', 'batch_size'):
      if getattr(self, name) < 1:
        raise ValueError(f'--{name.replace("_", "-")} must be >= 1')
    if self.learning_rate < 0:
      raise ValueError(f'--learning-rate {self.learning_rate}: must be >= 0 '
                       '(0: chosen for the batch size)')
