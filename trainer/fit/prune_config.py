"""`vqa prune`: magnitude pruning (tfmot) with fine-tuning, stripped and sized.

  vqa prune --model MODEL_DIR --data OUT --output PRUNED_DIR
      [--final-sparsity 0.8] [--schedule polynomial|constant]
      [--begin-step N --end-step N --frequency N] [--epochs 4]
      [--keep-dense [LAYER ...]]

Wraps the prunable layers of a trained student or teacher
(`prune_low_magnitude` on Dense, Conv1D, Conv2D, Embedding and LSTM kernels;
frozen layers, the nested subclassed TFBertModel and the --keep-dense layers
- by default the first image convolution and the answer layer - are left
alone), fine-tunes with `UpdatePruningStep` and `PruningSummaries`
(TensorBoard), then strips the
wrappers layer by layer (tfmot's `strip_pruning` cannot recurse into
TFBertModel), checks the sparsity reached in every pruned weight, and saves a
MODEL_DIR that evaluates, exports and serves like the original. Its weights
are reported raw and gzip-compressed: a sparse model is only smaller once
compressed.

The schedule is computed from the real number of fine-tuning steps: by
default sparsity ramps from --begin-fraction to --end-fraction of them
(polynomial) or is applied from the begin step on (constant); explicit
--begin-step/--end-step override the fractions.
"""
import dataclasses

from trainer.contract import errors
from trainer.fit.fit_config import FitConfig


SCHEDULES = ('polynomial', 'constant')


@dataclasses.dataclass(frozen=True)
class PruneConfig(FitConfig):
  """A pruning job; written to PRUNED_DIR/config.json."""
  model_dir: str = dataclasses.field(default='', metadata={
      'flag': '--model', 'metavar': 'MODEL_DIR',
      'required': True, 'help': 'the trained model to prune'})
  final_sparsity: float = 0.8
  initial_sparsity: float = 0.0  # polynomial schedule only
  schedule: str = dataclasses.field(default='polynomial', metadata={
      'choices': SCHEDULES})
  begin_step: int = -1  # -1: begin_fraction of the fine-tuning steps
  end_step: int = -1  # -1: end_fraction of the fine-tuning steps
  begin_fraction: float = 0.0
  end_fraction: float = 0.7
  frequency: int = 0  # 0: a tenth of the ramp (at least 1 step)
  # Layers left dense where the model has them: the first image convolution
  # (the student's, MobileNetV2's) and the answer layer. They hold a few
  # thousand weights, and pruning them costs the most accuracy per byte saved.
  keep_dense: tuple = dataclasses.field(
      default=('image_conv_0', 'Conv1', 'answer_logits'), metadata={
          'nargs': '*', 'metavar': 'LAYER',
          'help': 'layers left dense where present; the flag alone prunes '
                  'every prunable layer'})
  epochs: int = 4
  batch_size: int = 64  # per replica
  learning_rate: float = 1e-3  # fine-tuning a trained model

  def check(self):
    if not 0 <= self.final_sparsity < 1:
      raise errors.UserError(f'--final-sparsity {self.final_sparsity}: in [0, 1)')
    if not 0 <= self.initial_sparsity <= self.final_sparsity:
      raise errors.UserError(f'--initial-sparsity {self.initial_sparsity}: in '
                       '[0, final sparsity]')
    if self.schedule not in SCHEDULES:
      raise errors.UserError(f'--schedule {self.schedule!r}: one of {SCHEDULES}')
    if not 0 <= self.begin_fraction <= self.end_fraction <= 1:
      raise errors.UserError('need 0 <= --begin-fraction <= --end-fraction <= 1')
    self.check_fit()
