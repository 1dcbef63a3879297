"""The `vqa distill` job (its config: distill_config.py)."""
import os
import sys
import time

import tensorflow as tf

from trainer.contract import entry_point
from trainer.contract import errors
from trainer.contract import record_spec
from trainer.data import compact_vocabulary
from trainer.fit import defaults
from trainer.fit import distribution
from trainer.data import input_pipeline
from trainer.models import inference
from trainer.models import model_io
from trainer.models import student as student_lib
from trainer.data import targets
from trainer.fit import callbacks
from trainer.fit import distillation
from trainer.fit import fit_setup
from trainer.fit import outputs
from trainer.fit import teacher_logits
# The job's config, here too for callers of the job.
from trainer.fit.distill_config import DistillConfig  # pylint: disable=unused-import


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


def student_vocabulary(config, spec):
  """The CompactVocabulary of the training questions, None for --vocabulary
  full."""
  if config.student.vocabulary != 'compact':
    return None
  return compact_vocabulary.build_compact_vocabulary(spec,
                                                     config.training_splits)


def build_distiller(config, spec, total_steps, vocabulary=None):
  """(Distiller, student); call inside the strategy's scope.

  `vocabulary`: student_vocabulary(config, spec), read here when not given.
  """
  vocabulary = vocabulary or student_vocabulary(config, spec)
  student = student_lib.build_student(
      config.student, spec.metadata.tokenizer.vocab_size,
      spec.num_answers, spec.max_question_tokens, spec.image_size,
      vocabulary)
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
  outputs.check_output_free(config, output)
  global_batch = config.batch_size * strategy.num_replicas_in_sync
  config, choices = defaults.resolve_learning_rate(config, global_batch)
  choices.append(defaults.student_image_choice(config.student,
                                               spec.image_size))
  if chief:
    print(defaults.format_choices(choices), flush=True)
  train_data, val_data = _datasets(config, spec, global_batch)
  # Seeded after the teacher's logits are computed, so the student starts
  # from the same weights whichever way the teacher is run.
  fit_setup.seed_everything(config)
  steps = fit_setup.steps_per_epoch(config, spec, global_batch,
                                    config.training_splits)
  vocabulary = student_vocabulary(config, spec)
  with strategy.scope():
    distiller, student = build_distiller(config, spec, steps * config.epochs,
                                         vocabulary)
  start = time.monotonic()
  history = distiller.fit(
      train_data, epochs=config.epochs, steps_per_epoch=steps,
      validation_data=val_data,
      validation_steps=config.validation_steps or None,
      callbacks=(callbacks.training_callbacks(config, output, chief) +
                 list(extra_callbacks)),
      verbose=fit_setup.keras_verbose(config))
  seconds = time.monotonic() - start
  val_metrics = distiller.evaluate(val_data,
                                   steps=config.validation_steps or None,
                                   return_dict=True, verbose=0)
  summary = outputs.history_summary(history, val_metrics, seconds, strategy,
                                    global_batch)
  summary['parameters'] = int(student.count_params())
  summary['training_splits'] = list(config.training_splits)
  outputs.add_choices_and_image_check(
      summary, choices, inference.logits_function(student), config, spec,
      global_batch, chief)
  return outputs.save_outputs(student, config, spec, output, chief, summary,
                              model_config=config.student,
                              extra={'choices': summary['choices']})


if __name__ == '__main__':
  sys.exit(entry_point.refuse_direct_run('distill', 'trainer.fit.distill'))
