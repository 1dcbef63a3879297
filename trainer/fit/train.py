"""The `vqa train` job (its config: train_config.py)."""
import dataclasses
import sys
import time

import tensorflow as tf

from trainer.contract import entry_point
from trainer.fit import feature_cache
from trainer.data import input_pipeline
from trainer.fit import callbacks
from trainer.fit import defaults
from trainer.fit import distribution
from trainer.fit import fit_setup
from trainer.fit import outputs
# The job's config, here too for callers of the job.
from trainer.fit.train_config import TrainConfig  # pylint: disable=unused-import
from trainer.models import inference
from trainer.models import model_io
from trainer.models import multimodal

keras = tf.keras


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
  fit_setup.seed_everything(config)
  if config.mixed_precision:
    keras.mixed_precision.set_global_policy('mixed_float16')
  chief = distribution.is_chief(strategy)
  if chief:
    print(defaults.format_choices(choices), flush=True)
  output = distribution.worker_dir(config.output, strategy)
  outputs.check_output_free(config, output)
  cache_text, cache_image = _cache_choices(config)
  steps = fit_setup.steps_per_epoch(config, spec, global_batch)
  with strategy.scope():
    layers = model_io.build_layers(config.model, spec, config.cache_dir)
    if cache_text or cache_image:
      fitted = multimodal.head_model(layers, spec.max_question_tokens, cache_text,
                                 cache_image)
    else:
      fitted = multimodal.full_model(layers, spec.max_question_tokens)
    fit_setup.compile_model(fitted, config, steps * config.epochs)
  train, val = _datasets(config, spec, layers, global_batch)
  start = time.monotonic()
  history = fitted.fit(
      train, epochs=config.epochs, steps_per_epoch=steps,
      validation_data=val, validation_steps=config.validation_steps or None,
      callbacks=(callbacks.training_callbacks(config, output, chief) +
                 list(extra_callbacks)),
      verbose=fit_setup.keras_verbose(config))
  seconds = time.monotonic() - start
  val_metrics = fitted.evaluate(val, steps=config.validation_steps or None,
                                return_dict=True, verbose=0)
  with strategy.scope():
    model = multimodal.full_model(layers, spec.max_question_tokens)
    logits_of = inference.logits_function(model, layers,
                                          spec.max_question_tokens)
  summary = outputs.history_summary(history, val_metrics, seconds, strategy,
                                    global_batch)
  outputs.add_choices_and_image_check(summary, choices, logits_of, config,
                                      spec, global_batch, chief)
  return outputs.save_outputs(model, config, spec, output, chief, summary,
                              extra={'choices': summary['choices']})


if __name__ == '__main__':
  sys.exit(entry_point.refuse_direct_run('train', 'trainer.fit.train'))
