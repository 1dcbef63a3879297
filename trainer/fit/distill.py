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
import argparse
import dataclasses
import os
import sys
import time

import numpy as np
import tensorflow as tf

from trainer.contract import record_spec
from trainer.fit import defaults
from trainer.fit import distribution
from trainer.data import feature_cache
from trainer.data import input_pipeline
from trainer.models import model_io
from trainer.models import student as student_lib
from trainer.data import targets
from trainer.fit import train

keras = tf.keras

TEACHER_LOGITS = 'teacher_logits'
TEACHER_LOGITS_MODES = ('precompute', 'on-the-fly')
LOGITS_DIR = 'teacher_logits'
LOGITS_INFO = 'info.json'


@dataclasses.dataclass(frozen=True)
class DistillConfig(train.FitConfig):
  """A distillation job; written to STUDENT_DIR/config.json."""
  teacher: str = ''
  student: student_lib.StudentConfig = student_lib.StudentConfig()
  # alpha 0.5 at T=2 made better students than 0.1 at T=4 on both sample
  # families (benchmarks/RESULTS.md).
  alpha: float = 0.5
  temperature: float = 2.0
  teacher_logits: str = 'precompute'
  teacher_logits_dir: str = ''  # '' = STUDENT_DIR/teacher_logits
  unlabelled_splits: tuple = ()  # learnt from the teacher's answers alone
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
      raise ValueError(f'--alpha {self.alpha}: must be in [0, 1]')
    if self.temperature <= 0:
      raise ValueError(f'--temperature {self.temperature}: must be > 0')
    if self.teacher_logits not in TEACHER_LOGITS_MODES:
      raise ValueError(f'--teacher-logits {self.teacher_logits!r}: one of '
                       f'{TEACHER_LOGITS_MODES}')
    if self.uses_teacher and not self.teacher:
      raise ValueError('--teacher is required unless --alpha is 1')
    self.check_fit()


def softened_kl(teacher_logits, student_logits, temperature):
  """Per-example KL(softmax(teacher/T) || softmax(student/T))."""
  teacher_log_p = tf.nn.log_softmax(teacher_logits / temperature, axis=-1)
  student_log_p = tf.nn.log_softmax(student_logits / temperature, axis=-1)
  return tf.reduce_sum(tf.exp(teacher_log_p) * (teacher_log_p - student_log_p),
                       axis=-1)


def distillation_losses(y_true, student_logits, teacher_logits, alpha,
                        temperature, student_loss_fn):
  """Per-example (total, student loss, distillation loss).

  total = alpha * student_loss + (1 - alpha) * T^2 * KL; the T^2 keeps the
  gradients of the softened term on the scale of the student loss's.
  `teacher_logits` None (alpha 1) makes the distillation term 0.
  """
  student_loss = student_loss_fn(y_true, student_logits)
  if teacher_logits is None:
    distill_loss = tf.zeros_like(student_loss)
  else:
    distill_loss = temperature ** 2 * softened_kl(
        tf.cast(teacher_logits, student_logits.dtype), student_logits,
        temperature)
  total = alpha * student_loss + (1 - alpha) * distill_loss
  return total, student_loss, distill_loss


class Distiller(keras.Model):
  """Trains `student` against the targets and the teacher's logits.

  The teacher is called with training=False and is not tracked by this model:
  its weights get no gradient, are not in checkpoints, and never change.
  Inputs may carry precomputed `teacher_logits`; otherwise the teacher runs
  on the batch. Validation measures the student alone (val_loss is the
  student loss).
  """

  def __init__(self, student, teacher=None, alpha=0.1, temperature=4.0,
               student_loss_fn=targets.soft_score_loss, **kwargs):
    super().__init__(**kwargs)
    self.student = student
    # A closure, not an attribute: the teacher stays out of tracking.
    self._teacher_logits = (
        (lambda inputs: teacher(inputs, training=False)) if teacher else None)
    self.alpha = alpha
    self.temperature = temperature
    self.student_loss_fn = student_loss_fn
    self.loss_tracker = keras.metrics.Mean(name='loss')
    self.student_loss_tracker = keras.metrics.Mean(name='student_loss')
    self.distill_loss_tracker = keras.metrics.Mean(name='distillation_loss')

  @property
  def metrics(self):
    return [self.loss_tracker, self.student_loss_tracker,
            self.distill_loss_tracker] + self.compiled_metrics.metrics

  def call(self, inputs, training=None):
    return self.student(_without_teacher_logits(inputs), training=training)

  def _teacher_logits_for(self, inputs):
    if TEACHER_LOGITS in inputs:
      return inputs[TEACHER_LOGITS]
    if self._teacher_logits is None:
      return None
    return tf.stop_gradient(self._teacher_logits(inputs))

  def train_step(self, data):
    inputs, y_true = data
    student_inputs = _without_teacher_logits(inputs)
    teacher_logits = self._teacher_logits_for(inputs)
    if self.alpha == 1:
      teacher_logits = None
    with tf.GradientTape() as tape:
      student_logits = self.student(student_inputs, training=True)
      total, student_loss, distill_loss = distillation_losses(
          y_true, student_logits, teacher_logits, self.alpha,
          self.temperature, self.student_loss_fn)
      loss = tf.nn.compute_average_loss(total)
      if self.student.losses:
        loss += tf.nn.scale_regularization_loss(tf.add_n(self.student.losses))
    variables = self.student.trainable_variables
    self.optimizer.apply_gradients(zip(tape.gradient(loss, variables),
                                       variables))
    # Unlabelled questions (--unlabelled-splits) have no targets: the
    # student loss and the accuracies are averaged over labelled ones.
    labelled = targets.labelled_weights(y_true)
    self.loss_tracker.update_state(total)
    self.student_loss_tracker.update_state(student_loss,
                                           sample_weight=labelled)
    self.distill_loss_tracker.update_state(distill_loss)
    self.compiled_metrics.update_state(y_true, student_logits,
                                       sample_weight=labelled)
    return {metric.name: metric.result() for metric in self.metrics}

  def test_step(self, data):
    inputs, y_true = data
    student_logits = self.student(_without_teacher_logits(inputs),
                                  training=False)
    student_loss = self.student_loss_fn(y_true, student_logits)
    self.loss_tracker.update_state(student_loss)
    self.student_loss_tracker.update_state(student_loss)
    self.compiled_metrics.update_state(y_true, student_logits)
    return {metric.name: metric.result() for metric in self.metrics
            if metric is not self.distill_loss_tracker}


def _without_teacher_logits(inputs):
  return {k: v for k, v in inputs.items() if k != TEACHER_LOGITS}


# --- the teacher-logits side file -------------------------------------------

def _logits_path(directory, split):
  return os.path.join(directory, f'{split}.tfrecord.gz')


def write_teacher_logits(path, question_ids, logits):
  """question id -> logits, one tf.train.Example per question, gzip."""
  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.TFRecordWriter(path, options='GZIP') as writer:
    for question_id, row in zip(question_ids, logits):
      example = tf.train.Example(features=tf.train.Features(feature={
          'question_id': tf.train.Feature(
              int64_list=tf.train.Int64List(value=[int(question_id)])),
          TEACHER_LOGITS: tf.train.Feature(
              float_list=tf.train.FloatList(value=row.tolist())),
      }))
      writer.write(example.SerializeToString())


def read_teacher_logits(path, num_answers):
  """(question ids, logits [N, K]) from a side file."""
  spec = {'question_id': tf.io.FixedLenFeature([], tf.int64),
          TEACHER_LOGITS: tf.io.FixedLenFeature([num_answers], tf.float32)}
  dataset = tf.data.TFRecordDataset(path, compression_type='GZIP').batch(
      4096).map(lambda records: tf.io.parse_example(records, spec))
  ids, logits = [], []
  try:
    for batch in dataset:
      ids.append(batch['question_id'].numpy())
      logits.append(batch[TEACHER_LOGITS].numpy())
  except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
    raise ValueError(f'{path}: unreadable teacher logits ({e.message}); '
                     'delete its folder to compute them again') from e
  if not ids:
    raise ValueError(f'{path}: no teacher logits in the file')
  return np.concatenate(ids), np.concatenate(logits)


def _location(path):
  """A local path made absolute (the same folder however it is written)."""
  return path if '://' in path else os.path.abspath(path)


def _side_file_info(config, spec):
  return {'teacher': _location(config.teacher),
          'data': _location(spec.data_dir),
          'splits': list(config.training_splits),
          'answers': list(spec.answers)}


def teacher_logits_table(config, spec, batch_size):
  """FeatureTable of the teacher's logits on the training splits.

  Read from the side file when one made by the same teacher on the same
  records and answers is there; otherwise computed and written to it.
  """
  directory = config.teacher_logits_dir or os.path.join(config.output,
                                                        LOGITS_DIR)
  path = _logits_path(directory, config.train_split)
  info_path = os.path.join(directory, LOGITS_INFO)
  info = _side_file_info(config, spec)
  reusable = (tf.io.gfile.exists(path) and tf.io.gfile.exists(info_path) and
              model_io.read_json(info_path) == info)
  if reusable:
    return feature_cache.FeatureTable(*read_teacher_logits(path,
                                                           spec.num_answers))
  teacher = model_io.load_model(config.teacher)
  table = feature_cache.compute_features(
      teacher.model, spec, config.training_splits, batch_size, 'question_id',
      lambda batch: input_pipeline.to_model_inputs(batch)[0],
      decode_images=teacher.uses_image)
  write_teacher_logits(path, *table.rows)
  model_io.write_json(info, info_path)
  return table


def with_teacher_logits(dataset, table):
  """Adds the teacher's logits to (inputs, targets) pairs by question id."""

  def add(features):
    inputs, packed = input_pipeline.to_model_inputs(features)
    inputs[TEACHER_LOGITS] = table.lookup(features['question_id'])
    return inputs, packed

  return dataset.map(add, num_parallel_calls=tf.data.AUTOTUNE)


# --- the job ----------------------------------------------------------------

def _check_teacher(config, spec):
  saved = model_io.read_saved_config(config.teacher)
  model_io.check_same_answers(
      saved.answers, os.path.join(config.teacher, model_io.CONFIG_FILE),
      spec.answers, spec.answers_path)


def check_unlabelled_splits(config, spec):
  """Each --unlabelled-splits split is preprocessed and has no annotations."""
  for split in config.unlabelled_splits:
    spec.metadata.check_split(split, '--unlabelled-splits')
    if record_spec.is_labelled_split(split, spec.metadata.unlabelled_splits):
      raise ValueError(f'--unlabelled-splits {split}: the split has '
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
  table = teacher_logits_table(config, spec, global_batch)
  return with_teacher_logits(make(config.training_splits, True, False),
                             table), val


def compile_distiller(distiller, learning_rate):
  # Weighted metrics: train_step weighs unlabelled questions 0 (Keras ignores
  # sample weights for plain `metrics`).
  distiller.compile(optimizer=keras.optimizers.Adam(learning_rate),
                    weighted_metrics=[targets.vqa_accuracy,
                                      targets.top1_accuracy])


def build_distiller(config, spec, total_steps):
  """(Distiller, student); call inside the strategy's scope."""
  student = student_lib.build_student(
      config.student, spec.metadata.tokenizer.vocab_size,
      spec.num_answers, spec.max_question_tokens, spec.image_size)
  on_the_fly = config.uses_teacher and config.teacher_logits == 'on-the-fly'
  teacher = model_io.load_model(config.teacher).model if on_the_fly else None
  distiller = Distiller(student, teacher, alpha=config.alpha,
                        temperature=config.temperature,
                        student_loss_fn=targets.LOSSES[config.loss])
  compile_distiller(distiller, train.learning_rate(config, total_steps))
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
  train.seed_everything(config)
  steps = train.steps_per_epoch(config, spec, global_batch,
                                config.training_splits)
  with strategy.scope():
    distiller, student = build_distiller(config, spec, steps * config.epochs)
  start = time.monotonic()
  history = distiller.fit(
      train_data, epochs=config.epochs, steps_per_epoch=steps,
      validation_data=val_data,
      validation_steps=config.validation_steps or None,
      callbacks=(train.training_callbacks(config, output, chief) +
                 list(extra_callbacks)),
      verbose=config.verbose)
  seconds = time.monotonic() - start
  val_metrics = distiller.evaluate(val_data,
                                   steps=config.validation_steps or None,
                                   return_dict=True, verbose=0)
  summary = train.history_summary(history, val_metrics, seconds, strategy,
                                  global_batch)
  summary['parameters'] = int(student.count_params())
  summary['training_splits'] = list(config.training_splits)
  train.add_choices_and_image_check(summary, choices, student, config, spec,
                                    global_batch, chief)
  return train.save_outputs(student, config, spec, output, chief, summary,
                            model_config=config.student,
                            extra={'choices': summary['choices']})


# --- the command ------------------------------------------------------------

def add_student_flags(parser):
  defaults = student_lib.StudentConfig()
  parser.add_argument('--text-layer', default=defaults.text_layer,
                      choices=student_lib.TEXT_LAYERS)
  parser.add_argument('--embedding-dim', type=int,
                      default=defaults.embedding_dim)
  parser.add_argument('--text-width', type=int, default=defaults.text_width)
  parser.add_argument('--image-filters', type=int, nargs='+',
                      default=list(defaults.image_filters))
  parser.add_argument('--fusion-width', type=int,
                      default=defaults.fusion_width)
  parser.add_argument('--hidden-width', type=int,
                      default=defaults.hidden_width)
  parser.add_argument('--dropout', type=float, default=defaults.dropout)


def build_parser():
  defaults = DistillConfig()
  parser = argparse.ArgumentParser(
      prog='vqa distill', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--teacher', default='',
                      help='teacher MODEL_DIR (not needed with --alpha 1)')
  parser.add_argument('--data', required=True, help='`vqa preprocess` output')
  parser.add_argument('--output', required=True, help='student MODEL_DIR')
  parser.add_argument('--config', default='',
                      help='JSON of DistillConfig fields (e.g. the best of a '
                      '`vqa tune distill` sweep); flags given override it')
  parser.add_argument('--alpha', type=float, default=defaults.alpha,
                      help='weight of the loss on the VQA targets')
  parser.add_argument('--temperature', type=float,
                      default=defaults.temperature)
  parser.add_argument('--teacher-logits', default=defaults.teacher_logits,
                      choices=TEACHER_LOGITS_MODES)
  parser.add_argument('--teacher-logits-dir', default='')
  parser.add_argument('--unlabelled-splits', type=record_spec.split_list,
                      default=defaults.unlabelled_splits, metavar='SPLITS',
                      help='comma-separated preprocessed splits without '
                      'annotations (e.g. test2015), learnt from the '
                      "teacher's answers alone")
  add_student_flags(parser)
  train.add_fit_flags(parser, defaults)
  return parser


STUDENT_FLAGS = ('text_layer', 'embedding_dim', 'text_width', 'image_filters',
                 'fusion_width', 'hidden_width', 'dropout')


def config_from_args(args, argv):
  """DistillConfig from --config (if any) overridden by the flags given."""
  fields = train.fields_from_config_file(args, argv)
  student_fields = dict(fields.pop('student', {}))
  for name in STUDENT_FLAGS:
    if name in fields:
      student_fields[name] = fields.pop(name)
  fields['student'] = student_lib.StudentConfig.from_dict(student_fields)
  fields['unlabelled_splits'] = tuple(fields.get(
      'unlabelled_splits', DistillConfig.unlabelled_splits))
  return train.dataclass_from_fields(DistillConfig, fields, args.config)


def main(argv=None):
  argv = sys.argv[1:] if argv is None else list(argv)
  args = build_parser().parse_args(argv)
  try:
    config = config_from_args(args, argv)
    summary = distill(config)
  except (ValueError, FileNotFoundError) as e:
    print(f'vqa distill: error: {e}', file=sys.stderr)
    return 2
  val = summary['val']
  print(f'student: validation VQA accuracy {val["vqa_accuracy"]:.4f}, '
        f'{summary["parameters"]:,} parameters, after {summary["epochs_run"]} '
        f'epochs ({summary["train_seconds"]:.1f} s); model in {args.output}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
