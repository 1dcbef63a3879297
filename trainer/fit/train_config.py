"""`vqa train`: the teacher (or the question-only baseline) on the TFRecords.

  vqa train --data OUT --output MODEL_DIR [--epochs 10] [--batch-size 32]
      [--strategy auto|mirrored|multiworker|one] [--cache-frozen-features]

The same command runs on one CPU, one GPU, all GPUs of a machine
(MirroredStrategy) and several machines (MultiWorkerMirroredStrategy from
TF_CONFIG). Running it again with the same --output resumes an interrupted run
at the epoch where it stopped.
"""
import dataclasses

from trainer.fit.fit_config import FitConfig
from trainer.models import model_config


@dataclasses.dataclass(frozen=True)
class TrainConfig(FitConfig):
  """A training job; written to MODEL_DIR/config.json with the data facts."""
  model: model_config.ModelConfig = model_config.ModelConfig()
  mixed_precision: bool = False
  cache_frozen_features: bool = dataclasses.field(default=None, metadata={
      'help': 'compute frozen encoders once, train the rest (default: '
              'whenever an encoder is frozen)'})
  cache_dir: str = dataclasses.field(default='', metadata={
      'help': 'where converted text encoders are kept (default '
              '$VQA_CACHE_DIR or ~/.cache/vqa)'})

  def check(self):
    self.model.check()
    self.check_fit()
