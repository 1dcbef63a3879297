"""`vqa train`: the teacher (or the question-only baseline) on the TFRecords.

  vqa train --data OUT --output MODEL_DIR [--epochs 10] [--batch-size 32]
      [--strategy auto|mirrored|multiworker|one] [--cache-frozen-features]

The same command runs on one CPU, one GPU, all GPUs of a machine
(MirroredStrategy) and several machines (MultiWorkerMirroredStrategy from
TF_CONFIG). Running it again with the same --output resumes an interrupted run
at the epoch where it stopped.
"""
import dataclasses
import json
import math
import os
import time

import tensorflow as tf

from trainer.fit import defaults
from trainer.fit import distribution
from trainer.serve import export
from trainer.data import feature_cache
from trainer.measure import image_check
from trainer.data import input_pipeline
from trainer.models import model_io
from trainer.models import multimodal
from trainer.data import targets

keras = tf.keras


LEARNING_RATE_SCHEDULES = ('constant', 'cosine')


@dataclasses.dataclass(frozen=True)
class FitConfig:
  """What every fitting job (train, distill, prune) has; flags of the same
  names. Subclasses add their own fields and may change defaults."""
  data: str = dataclasses.field(default='', metadata={
      'required': True, 'folder': True, 'help': '`vqa preprocess` output'})
  output: str = dataclasses.field(default='', metadata={
      'required': True, 'folder': True, 'help': 'the MODEL_DIR written'})
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
      'choices': tuple(sorted(targets.LOSSES))})  # soft scores or the label
  strategy: str = dataclasses.field(default='auto', metadata={
      'choices': distribution.STRATEGIES})
  early_stopping_patience: int = 3
  steps_per_epoch: int = dataclasses.field(default=0, metadata={
      'help': '0: one pass over the training split'})
  validation_steps: int = dataclasses.field(default=0, metadata={
      'help': '0: the whole validation split'})
  seed: int = 0
  deterministic: bool = False
  # Write MODEL_DIR/export (the serving SavedModel); the commands always do.
  export: bool = dataclasses.field(default=True, metadata={'cli': False})
  verbose: int = dataclasses.field(default=1, metadata={
      'help': 'Keras progress: 1 = bar, 2 = a line per epoch'})
  # Validation questions scored by the image-branch check after fitting
  # (image_check.py); 0 skips it.
  image_check_questions: int = dataclasses.field(default=8192, metadata={
      'help': 'validation questions of the image-branch check (0: skip it)'})

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


@dataclasses.dataclass(frozen=True)
class TrainConfig(FitConfig):
  """A training job; written to MODEL_DIR/config.json with the data facts."""
  model: multimodal.ModelConfig = multimodal.ModelConfig()
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


def steps_per_epoch(config, spec, global_batch, splits=None):
  """config.steps_per_epoch, or one pass over the training split (or the
  given splits)."""
  if config.steps_per_epoch:
    return config.steps_per_epoch
  examples = input_pipeline.count_examples(spec, splits or config.train_split)
  return max(1, math.ceil(examples / global_batch))


def learning_rate(config, total_steps):
  """The configured rate, or its cosine decay to 0 over `total_steps`."""
  if config.learning_rate_schedule == 'cosine':
    return keras.optimizers.schedules.CosineDecay(config.learning_rate,
                                                  decay_steps=total_steps)
  return config.learning_rate


def compile_model(model, config, total_steps):
  model.compile(
      optimizer=keras.optimizers.Adam(learning_rate(config, total_steps)),
      loss=targets.LOSSES[config.loss],
      metrics=[targets.vqa_accuracy, targets.top1_accuracy])


def _cache_choices(config):
  """Which frozen encoders to replace by cached features."""
  if not config.cache_frozen_features:
    return False, False
  model = config.model
  return model.text_frozen, model.uses_image and model.image_frozen


def _datasets(config, spec, layers, global_batch):
  """(train, val) datasets shaped for the model being fitted."""
  cache_text, cache_image = _cache_choices(config)
  decode = config.model.uses_image and not cache_image
  make = lambda split, training: input_pipeline.make_dataset(
      spec, split, global_batch, training=training,
      deterministic=config.deterministic, seed=config.seed,
      for_keras=not (cache_text or cache_image), decode_images=decode,
      drop_labelless=training)
  train, val = make(config.train_split, True), make(config.val_split, False)
  if not (cache_text or cache_image):
    return train, val
  splits = (config.train_split, config.val_split)
  text_table = (feature_cache.compute_text_features(
      layers, spec, splits, global_batch) if cache_text else None)
  image_table = (feature_cache.compute_image_features(
      layers, spec, splits, global_batch) if cache_image else None)
  return (feature_cache.with_cached_features(train, text_table, image_table),
          feature_cache.with_cached_features(val, text_table, image_table))


def training_callbacks(config, output, chief, early_stopping=True):
  """Per-epoch checkpoints, resume state, early stopping, TensorBoard."""
  callbacks = [
      keras.callbacks.BackupAndRestore(os.path.join(output, 'backup')),
      keras.callbacks.ModelCheckpoint(
          os.path.join(output, 'checkpoints', 'epoch-{epoch:03d}'),
          save_weights_only=True),
  ]
  if early_stopping:
    callbacks.append(keras.callbacks.EarlyStopping(
        monitor='val_vqa_accuracy', mode='max',
        patience=config.early_stopping_patience, restore_best_weights=True))
  if chief:
    callbacks.append(keras.callbacks.TensorBoard(os.path.join(output, 'logs')))
  return callbacks


def resolve_config(config, spec, global_batch):
  """(config with every default decided, [defaults.Choice]).

  The records decide the image size; defaults.py what depends on it, on the
  pretrained weights and on the global batch.
  """
  config.check()
  model = dataclasses.replace(config.model, image_size=spec.image_size)
  model, choices = defaults.resolve_image_choices(model)
  config = dataclasses.replace(config, model=model)
  config, rate_choices = defaults.resolve_learning_rate(config, global_batch)
  config, cache_choices = defaults.resolve_feature_cache(config)
  config.model.check_resolved()
  return config, choices + rate_choices + cache_choices


def run_image_check(model, config, spec, global_batch):
  """The image-branch check of a fitted model, or None (no image, or
  config.image_check_questions is 0)."""
  if not (config.model.uses_image and config.image_check_questions):
    return None
  return image_check.measure(image_check.keras_logits(model), spec,
                             config.val_split, global_batch,
                             config.image_check_questions)


def add_choices_and_image_check(summary, choices, model, config, spec,
                                global_batch, chief):
  """Adds the decided defaults and the image-branch check (printed by the
  chief) to a fit's summary."""
  summary['choices'] = [choice.to_dict() for choice in choices]
  summary['image_check'] = run_image_check(model, config, spec, global_batch)
  if chief:
    image_check.print_check(summary['image_check'])


def history_summary(history, val_metrics, seconds, strategy, global_batch):
  """What history.json records about a fit."""
  return {'history': {k: [float(v) for v in values]
                      for k, values in history.history.items()},
          'val': {k: float(v) for k, v in val_metrics.items()},
          'train_seconds': seconds, 'epochs_run': len(history.epoch),
          'first_epoch': history.epoch[0] if history.epoch else None,
          'global_batch_size': global_batch,
          'replicas': strategy.num_replicas_in_sync}


def seed_everything(config):
  """Seeds Python, NumPy and TF; fixes op order when config.deterministic."""
  keras.utils.set_random_seed(config.seed)
  if config.deterministic:
    tf.config.experimental.enable_op_determinism()


def save_outputs(model, config, spec, output, chief, summary,
                 model_config=None, extra=None, after_save=None):
  """Saves MODEL_DIR (model, config, history, export); returns `summary`.

  `after_save(output)` may add facts about the saved files to the summary.
  """
  model_io.save_model(model, config, spec, output, model_config, extra)
  if after_save:
    summary.update(after_save(output))
  if config.export and chief:
    # Exported from the saved files, not the in-memory model: its variables
    # may be distributed ones, and this checks that MODEL_DIR loads alone.
    export.export_saved_model(output, model_io.load_model(output))
  model_io.write_json(summary, os.path.join(output, model_io.HISTORY_FILE))
  if not chief:
    # Other workers saved only because saving is a collective operation.
    tf.io.gfile.rmtree(output)
  return summary


@input_pipeline.names_damaged_shards
def train_and_evaluate(config, strategy=None, extra_callbacks=()):
  """Trains, validates every epoch, saves; returns the final metrics.

  Args:
    config: TrainConfig.
    strategy: a tf.distribute strategy; default from config.strategy.
    extra_callbacks: more Keras callbacks (e.g. a Ray Tune reporter).

  Returns:
    dict with 'history' (per-epoch metrics), 'val' (final validation metrics)
    and 'train_seconds'.
  """
  # First: a multi-worker strategy must exist before TensorFlow initialises.
  strategy = strategy or distribution.make_strategy(config.strategy)
  spec = input_pipeline.read_data_spec(config.data)
  global_batch = config.batch_size * strategy.num_replicas_in_sync
  config, choices = resolve_config(config, spec, global_batch)
  seed_everything(config)
  if config.mixed_precision:
    keras.mixed_precision.set_global_policy('mixed_float16')
  chief = distribution.is_chief(strategy)
  if chief:
    print(defaults.format_choices(choices), flush=True)
  output = distribution.worker_dir(config.output, strategy)
  cache_text, cache_image = _cache_choices(config)
  steps = steps_per_epoch(config, spec, global_batch)
  with strategy.scope():
    layers = model_io.build_layers(config.model, spec, config.cache_dir)
    if cache_text or cache_image:
      fitted = multimodal.head_model(layers, spec.max_question_tokens, cache_text,
                                 cache_image)
    else:
      fitted = multimodal.full_model(layers, spec.max_question_tokens)
    compile_model(fitted, config, steps * config.epochs)
  train, val = _datasets(config, spec, layers, global_batch)
  start = time.monotonic()
  history = fitted.fit(
      train, epochs=config.epochs, steps_per_epoch=steps,
      validation_data=val, validation_steps=config.validation_steps or None,
      callbacks=training_callbacks(config, output, chief) + list(extra_callbacks),
      verbose=config.verbose)
  seconds = time.monotonic() - start
  val_metrics = fitted.evaluate(val, steps=config.validation_steps or None,
                                return_dict=True, verbose=0)
  with strategy.scope():
    model = multimodal.full_model(layers, spec.max_question_tokens)
  summary = history_summary(history, val_metrics, seconds, strategy,
                            global_batch)
  add_choices_and_image_check(summary, choices, model, config, spec,
                              global_batch, chief)
  return save_outputs(model, config, spec, output, chief, summary,
                      extra={'choices': summary['choices']})
