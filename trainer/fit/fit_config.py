"""FitConfig: the fields every fitting job (train, distill, prune) shares.

No TensorFlow here: the jobs' --help reads these configs.
"""
import dataclasses

from trainer.contract import errors

LEARNING_RATE_SCHEDULES = ('constant', 'cosine')
# The keys of trainer.data.targets.LOSSES (a test keeps them equal).
LOSSES = ('soft', 'softmax')
# trainer.fit.distribution.make_strategy's names.
STRATEGIES = ('auto', 'mirrored', 'multiworker', 'one')


@dataclasses.dataclass(frozen=True)
class FitConfig:
  """What every fitting job (train, distill, prune) has; flags of the same
  names. Subclasses add their own fields and may change defaults."""
  data: str = dataclasses.field(default='', metadata={
      'required': True, 'folder': True, 'help': '`vqa preprocess` output'})
  output: str = dataclasses.field(default='', metadata={
      'required': True, 'folder': True, 'metavar': 'DIR',
      'help': 'the MODEL_DIR written'})
  train_split: str = 'train2014'
  val_split: str = 'val2014'
  epochs: int = 10
  batch_size: int = dataclasses.field(default=32, metadata={
      'help': 'per replica; the global batch is this x replicas'})
  # 0: chosen for the global batch (defaults.py)
  learning_rate: float = dataclasses.field(default=0.0, metadata={
      'help': '0: 2e-3 x sqrt(global batch / 32)'})
  learning_rate_schedule: str = dataclasses.field(default='cosine', metadata={
      'choices': LEARNING_RATE_SCHEDULES})  # cosine decays to 0
  loss: str = dataclasses.field(default='soft', metadata={
      'choices': LOSSES})  # soft scores or the label
  strategy: str = dataclasses.field(default='auto', metadata={
      'choices': STRATEGIES})
  early_stopping_patience: int = dataclasses.field(default=3, metadata={
      'help': 'epochs without a better validation VQA accuracy before '
              'training stops, keeping the best weights (0: never stops '
              'early)'})
  steps_per_epoch: int = dataclasses.field(default=0, metadata={
      'help': '0: one pass over the training split'})
  validation_steps: int = dataclasses.field(default=0, metadata={
      'help': '0: the whole validation split'})
  seed: int = 0
  deterministic: bool = False
  overwrite: bool = dataclasses.field(default=False, metadata={
      'help': 'replace a finished model in --output (an interrupted run '
              'resumes without it)'})
  # Write MODEL_DIR/export (the serving SavedModel); the commands always do.
  export: bool = dataclasses.field(default=True, metadata={'cli': False})
  # A progress bar written into a log file is hundreds of \r updates.
  verbose: int = dataclasses.field(default=-1, metadata={
      'help': 'Keras progress: 1 a bar, 2 a line per epoch, 0 nothing, -1 a '
              'bar on a terminal and a line per epoch otherwise'})
  # Validation questions scored by the image-branch check after fitting
  # (image_check.py); 0 skips it.
  image_check_questions: int = dataclasses.field(default=8192, metadata={
      'help': 'validation questions of the image-branch check (0: skip it)'})

  def check_fit(self):
    if self.learning_rate_schedule not in LEARNING_RATE_SCHEDULES:
      raise errors.UserError(f'--learning-rate-schedule '
                       f'{self.learning_rate_schedule!r}: one of '
                       f'{LEARNING_RATE_SCHEDULES}')
    if self.loss not in LOSSES:
      raise errors.UserError(f'--loss {self.loss!r}: one of {LOSSES}')
    for name in ('epochs', 'batch_size'):
      if getattr(self, name) < 1:
        raise errors.UserError(f'--{name.replace("_", "-")} must be >= 1')
    if self.early_stopping_patience < 0:
      raise errors.UserError(f'--early-stopping-patience '
                             f'{self.early_stopping_patience}: must be >= 0 '
                             '(0: never stops early)')
    if self.learning_rate < 0:
      raise errors.UserError(f'--learning-rate {self.learning_rate}: must be >= 0 '
                       '(0: chosen for the batch size)')
