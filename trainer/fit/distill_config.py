"""`vqa distill`: knowledge distillation of a trained teacher into a student.

  vqa distill --teacher MODEL_DIR --data OUT --output STUDENT_DIR
      [--alpha 0.5] [--temperature 2] [--epochs 10]
      [--teacher-logits precompute|on-the-fly] [--unlabelled-splits test2015]

loss = alpha * student_loss + (1 - alpha) * T^2 * KL(softmax(teacher / T) ||
softmax(student / T)): alpha weighs the loss against the VQA targets (the
same `--loss` as `vqa train`), 1 - alpha the teacher's softened answers.
`--alpha 1` trains the same student without a teacher (the baseline that
shows what distillation adds).

`--unlabelled-splits` adds preprocessed splits without annotations (e.g.
test2015) to the training questions: they have no VQA targets, so the student
learns them from the teacher's answers alone - what a teacher offers that
labels cannot. Without a teacher (alpha 1) they are not used.

By default the teacher's logits are computed once per training question and
kept in a TFRecord side file (STUDENT_DIR/teacher_logits/, or
--teacher-logits-dir to share it between runs, e.g. a sweep); the teacher runs
with training=False either way, so both modes train the same student.
The student is saved, evaluated, exported and served like the teacher.
"""
import dataclasses

from trainer.contract import errors
from trainer.contract import record_spec
from trainer.fit.fit_config import FitConfig
from trainer.models import model_config


TEACHER_LOGITS_MODES = ('precompute', 'on-the-fly')


@dataclasses.dataclass(frozen=True)
class DistillConfig(FitConfig):
  """A distillation job; written to STUDENT_DIR/config.json."""
  teacher: str = dataclasses.field(default='', metadata={
      'metavar': 'MODEL_DIR',
      'help': 'the trained teacher (not needed with --alpha 1)'})
  student: model_config.StudentConfig = model_config.StudentConfig()
  # alpha 0.5 at T=2 made better students than 0.1 at T=4 on both sample
  # families (benchmarks/RESULTS.md).
  alpha: float = dataclasses.field(default=0.5, metadata={
      'help': 'weight of the loss on the VQA targets'})
  temperature: float = 2.0
  teacher_logits: str = dataclasses.field(default='precompute', metadata={
      'choices': TEACHER_LOGITS_MODES})
  teacher_logits_dir: str = ''  # '' = STUDENT_DIR/teacher_logits
  unlabelled_splits: tuple = dataclasses.field(default=(), metadata={
      'type': record_spec.split_list, 'metavar': 'SPLITS',
      'help': 'comma-separated preprocessed splits without annotations '
              "(e.g. test2015), learnt from the teacher's answers alone"})
  batch_size: int = 64  # per replica

  @property
  def model(self):
    return self.student

  @property
  def uses_teacher(self):
    return self.alpha < 1

  @property
  def training_splits(self):
    """The train split, plus the unlabelled ones when there is a teacher."""
    if not self.uses_teacher:
      return (self.train_split,)
    return (self.train_split,) + tuple(self.unlabelled_splits)

  def check(self):
    self.student.check()
    if not 0 <= self.alpha <= 1:
      raise errors.UserError(f'--alpha {self.alpha}: must be in [0, 1]')
    if self.temperature <= 0:
      raise errors.UserError(f'--temperature {self.temperature}: must be > 0')
    if self.teacher_logits not in TEACHER_LOGITS_MODES:
      raise errors.UserError(f'--teacher-logits {self.teacher_logits!r}: one of '
                       f'{TEACHER_LOGITS_MODES}')
    if self.uses_teacher and not self.teacher:
      raise errors.UserError('--teacher is required unless --alpha is 1')
    self.check_fit()
