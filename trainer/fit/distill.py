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
import os
import time

import tensorflow as tf

from trainer.contract import errors
from trainer.contract import record_spec
from trainer.fit import defaults
from trainer.fit import distribution
from trainer.data import input_pipeline
from trainer.models import model_io
from trainer.models import student as student_lib
from trainer.data import targets
from trainer.fit import callbacks
from trainer.fit import distillation
from trainer.fit import fit_setup
from trainer.fit import outputs
from trainer.fit import teacher_logits
from trainer.fit.fit_config import FitConfig

TEACHER_LOGITS_MODES = ('precompute', 'on-the-fly')


@dataclasses.dataclass(frozen=True)
class DistillConfig(FitConfig):
  """A distillation job; written to STUDENT_DIR/config.json."""
  teacher: str = dataclasses.field(default='', metadata={
      'help': 'teacher MODEL_DIR (not needed with --alpha 1)'})
  student: student_lib.StudentConfig = student_lib.StudentConfig()
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


# --- the job ----------------------------------------------------------------

# config.json's "job" of a `vqa prune` output (trainer/fit/prune.py's
# PruneConfig; a test keeps the two in step).
PRUNED_JOB = 'PruneConfig'


def _check_teacher(config, spec):
  """Refuses a student or a pruned model as the teacher, and other answers."""
  saved = model_io.read_saved_config(config.teacher)
  path = os.path.join(config.teacher, model_io.CONFIG_FILE)
  if saved.architecture != model_io.TEACHER:
    raise errors.UserError(
        f'--teacher {config.teacher}: {path} says architecture '
        f'{saved.architecture!r}; the teacher must be a `vqa train` MODEL_DIR '
        '(architecture "teacher"), not a student')
  if saved.job == PRUNED_JOB:
    raise errors.UserError(
        f'--teacher {config.teacher}: {path} says it was written by `vqa '
        'prune`; distil from the dense `vqa train` MODEL_DIR it was pruned '
        'from')
  model_io.check_same_answers(
      saved.answers, os.path.join(config.teacher, model_io.CONFIG_FILE),
      spec.answers, spec.answers_path)


def check_unlabelled_splits(config, spec):
  """Each --unlabelled-splits split is preprocessed and has no annotations."""
  for split in config.unlabelled_splits:
    spec.metadata.check_split(split, '--unlabelled-splits')
    if record_spec.is_labelled_split(split, spec.metadata.unlabelled_splits):
      raise errors.UserError(f'--unlabelled-splits {split}: the split has '
                       'annotations; only test* splits or those preprocessed '
                       'with --unlabelled-splits can be learnt from the '
                       'teacher alone')


def _datasets(config, spec, global_batch):
  precomputed = config.uses_teacher and config.teacher_logits == 'precompute'
  make = lambda split, training, for_keras: input_pipeline.make_dataset(
      spec, split, global_batch, training=training,
      deterministic=config.deterministic, seed=config.seed,
      for_keras=for_keras, drop_labelless=training)
  val = make(config.val_split, False, True)
  if not precomputed:
    return make(config.training_splits, True, True), val
  table = teacher_logits.teacher_logits_table(config, spec, global_batch)
  return teacher_logits.with_teacher_logits(
      make(config.training_splits, True, False), table), val


def build_distiller(config, spec, total_steps):
  """(Distiller, student); call inside the strategy's scope."""
  student = student_lib.build_student(
      config.student, spec.metadata.tokenizer.vocab_size,
      spec.num_answers, spec.max_question_tokens, spec.image_size)
  on_the_fly = config.uses_teacher and config.teacher_logits == 'on-the-fly'
  teacher = model_io.load_model(config.teacher).model if on_the_fly else None
  distiller = distillation.Distiller(
      student, teacher, alpha=config.alpha, temperature=config.temperature,
      student_loss_fn=targets.LOSSES[config.loss])
  distillation.compile_distiller(distiller,
                                 fit_setup.learning_rate(config, total_steps))
  distiller(_zero_inputs(student))  # built, as BackupAndRestore needs
  return distiller, student


def _zero_inputs(model):
  return {name: tf.zeros([1] + tensor.shape[1:].as_list(), tensor.dtype)
          for name, tensor in zip(model.input_names, model.inputs)}


@input_pipeline.names_damaged_shards
def distill(config, strategy=None, extra_callbacks=()):
  """Trains the student; returns the summary written to history.json."""
  strategy = strategy or distribution.make_strategy(config.strategy)
  config.check()
  spec = input_pipeline.read_data_spec(config.data)
  if config.uses_teacher:
    _check_teacher(config, spec)
  check_unlabelled_splits(config, spec)
  chief = distribution.is_chief(strategy)
  output = distribution.worker_dir(config.output, strategy)
  global_batch = config.batch_size * strategy.num_replicas_in_sync
  config, choices = defaults.resolve_learning_rate(config, global_batch)
  if chief:
    print(defaults.format_choices(choices), flush=True)
  train_data, val_data = _datasets(config, spec, global_batch)
  # Seeded after the teacher's logits are computed, so the student starts
  # from the same weights whichever way the teacher is run.
  fit_setup.seed_everything(config)
  steps = fit_setup.steps_per_epoch(config, spec, global_batch,
                                    config.training_splits)
  with strategy.scope():
    distiller, student = build_distiller(config, spec, steps * config.epochs)
  start = time.monotonic()
  history = distiller.fit(
      train_data, epochs=config.epochs, steps_per_epoch=steps,
      validation_data=val_data,
      validation_steps=config.validation_steps or None,
      callbacks=(callbacks.training_callbacks(config, output, chief) +
                 list(extra_callbacks)),
      verbose=config.verbose)
  seconds = time.monotonic() - start
  val_metrics = distiller.evaluate(val_data,
                                   steps=config.validation_steps or None,
                                   return_dict=True, verbose=0)
  summary = outputs.history_summary(history, val_metrics, seconds, strategy,
                                    global_batch)
  summary['parameters'] = int(student.count_params())
  summary['training_splits'] = list(config.training_splits)
  outputs.add_choices_and_image_check(summary, choices, student, config, spec,
                                      global_batch, chief)
  return outputs.save_outputs(student, config, spec, output, chief, summary,
                              model_config=config.student,
                              extra={'choices': summary['choices']})
