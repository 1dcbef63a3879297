"""The `vqa prune` job (its config: prune_config.py)."""
import dataclasses
import math
import os
import sys
import time

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper

from trainer.contract import entry_point
from trainer.contract import errors
from trainer.fit import callbacks as fit_callbacks
from trainer.fit import distribution
from trainer.fit import fit_setup
from trainer.fit import outputs
# The job's config, here too for callers of the job.
from trainer.fit.prune_config import PruneConfig  # pylint: disable=unused-import
from trainer.data import input_pipeline
from trainer.models import model_io
from trainer.measure import sizes

keras = tf.keras
PruneLowMagnitude = pruning_wrapper.PruneLowMagnitude

# Layer types whose kernels are pruned (exact types: DepthwiseConv2D, a
# Conv2D subclass, has no weight tfmot prunes).
PRUNED_TYPES = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D,
                keras.layers.Embedding, keras.layers.LSTM)
SPARSITY_TOLERANCE = 0.01


@dataclasses.dataclass(frozen=True)
class ScheduleSteps:
  begin: int
  end: int
  frequency: int


def schedule_steps(config, total_steps):
  """Begin/end/frequency in optimizer steps, from the real number of steps."""
  begin = (config.begin_step if config.begin_step >= 0 else
           int(config.begin_fraction * total_steps))
  end = (config.end_step if config.end_step >= 0 else
         max(begin + 1, math.ceil(config.end_fraction * total_steps)))
  if end <= begin:
    raise errors.UserError(f'pruning end step {end} must come after begin step '
                     f'{begin}')
  if end > total_steps:
    print(f'vqa prune: warning: the schedule ends at step {end}, after the '
          f'{total_steps} fine-tuning steps; the final sparsity will not be '
          'reached', file=sys.stderr)
  frequency = config.frequency or max(1, (end - begin) // 10)
  return ScheduleSteps(begin, end, frequency)


def make_schedule(config, steps):
  if config.schedule == 'constant':
    return tfmot.sparsity.keras.ConstantSparsity(
        config.final_sparsity, begin_step=steps.begin, end_step=-1,
        frequency=steps.frequency)
  return tfmot.sparsity.keras.PolynomialDecay(
      initial_sparsity=config.initial_sparsity,
      final_sparsity=config.final_sparsity, begin_step=steps.begin,
      end_step=steps.end, frequency=steps.frequency)


# --- wrapping and stripping, layer by layer ---------------------------------

def _is_functional(layer):
  """A nested Sequential/Functional model (cloned); not a subclassed one."""
  return isinstance(layer, keras.Model) and (
      layer._is_graph_network or isinstance(layer, keras.Sequential))  # pylint: disable=protected-access


def is_prunable(layer, keep_dense=()):
  return (type(layer) in PRUNED_TYPES and layer.trainable and
          layer.name not in keep_dense)


def add_pruning(model, schedule, keep_dense=()):
  """A clone of `model` whose prunable layers are wrapped for pruning.

  The wrapped layers are the model's own (their weights are pruned in
  place); nested Functional models are cloned the same way; anything else,
  TFBertModel and the layers named in `keep_dense` included, is reused as
  is. Call inside the strategy's scope.
  """

  def wrap(layer):
    if _is_functional(layer):
      return keras.models.clone_model(layer, clone_function=wrap)
    if is_prunable(layer, keep_dense):
      return tfmot.sparsity.keras.prune_low_magnitude(
          layer, pruning_schedule=schedule)
    return layer

  return keras.models.clone_model(model, clone_function=wrap)


def strip_pruning(model):
  """The model without pruning wrappers (tfmot's own recurses into BERT)."""

  def unwrap(layer):
    if isinstance(layer, PruneLowMagnitude):
      return layer.layer
    if _is_functional(layer):
      return keras.models.clone_model(layer, clone_function=unwrap)
    return layer

  return keras.models.clone_model(model, clone_function=unwrap)


def all_layers(model):
  """Every layer, descending into nested Functional models."""
  for layer in model.layers:
    yield layer
    if _is_functional(layer):
      yield from all_layers(layer)


def kept_dense(model, keep_dense):
  """Names of the layers that pruning would wrap but `keep_dense` spares."""
  return [layer.name for layer in all_layers(model)
          if is_prunable(layer) and not is_prunable(layer, keep_dense)]


def pruning_wrappers(model):
  return [layer for layer in all_layers(model)
          if isinstance(layer, PruneLowMagnitude)]


def achieved_sparsity(wrappers):
  """{weight name: fraction of zeros} of every pruned weight, and overall."""
  per_weight, zeros, total = {}, 0, 0
  for wrapper in wrappers:
    for weight, _, _ in wrapper.pruning_vars:
      values = weight.numpy()
      per_weight[weight.name] = float(np.mean(values == 0))
      zeros += int(np.sum(values == 0))
      total += values.size
  return {'overall': zeros / max(total, 1), 'weights': per_weight}


def check_sparsity(sparsity, config, steps, total_steps):
  """Weights below the target where the schedule should have reached it."""
  if steps.end > total_steps:
    return []
  return [name for name, value in sparsity['weights'].items()
          if value < config.final_sparsity - SPARSITY_TOLERANCE]


# --- the job ----------------------------------------------------------------

def _load_source(config, spec):
  loaded = model_io.load_model(config.model_dir)
  model_io.check_same_answers(loaded.answers, config.model_dir, spec.answers,
                              spec.answers_path)
  return loaded


def _datasets(config, spec, global_batch, uses_image):
  make = lambda split, training: input_pipeline.make_dataset(
      spec, split, global_batch, training=training,
      deterministic=config.deterministic, seed=config.seed,
      decode_images=uses_image, drop_labelless=training)
  return make(config.train_split, True), make(config.val_split, False)


def first_pruned_epoch(config, steps, steps_per_epoch):
  """The first epoch (0-based) that ends with the final sparsity in place."""
  last_ramp_step = steps.begin if config.schedule == 'constant' else steps.end
  return max(0, math.ceil(last_ramp_step / steps_per_epoch) - 1)


def _callbacks(config, output, chief, steps, steps_per_epoch):
  callbacks = [tfmot.sparsity.keras.UpdatePruningStep()]
  callbacks += fit_callbacks.training_callbacks(config, output, chief,
                                                early_stopping=False)
  # Keeps the best epoch among those already at the final sparsity (an
  # earlier one would undo pruning), as training keeps its best epoch.
  callbacks.append(keras.callbacks.EarlyStopping(
      monitor='val_vqa_accuracy', mode='max', patience=config.epochs,
      restore_best_weights=True,
      start_from_epoch=first_pruned_epoch(config, steps, steps_per_epoch)))
  if chief:
    callbacks.append(tfmot.sparsity.keras.PruningSummaries(
        log_dir=os.path.join(output, 'logs', 'pruning')))
  return callbacks


@input_pipeline.names_damaged_shards
def prune(config, strategy=None, extra_callbacks=()):
  """Prunes, fine-tunes, strips, checks and saves; returns the summary."""
  strategy = strategy or distribution.make_strategy(config.strategy)
  config.check()
  spec = input_pipeline.read_data_spec(config.data)
  fit_setup.seed_everything(config)
  chief = distribution.is_chief(strategy)
  output = distribution.worker_dir(config.output, strategy)
  outputs.check_output_free(config, output)
  global_batch = config.batch_size * strategy.num_replicas_in_sync
  steps_per_epoch = fit_setup.steps_per_epoch(config, spec, global_batch)
  total_steps = steps_per_epoch * config.epochs
  steps = schedule_steps(config, total_steps)
  with strategy.scope():
    loaded = _load_source(config, spec)
    pruned = add_pruning(loaded.model, make_schedule(config, steps),
                         config.keep_dense)
    fit_setup.compile_model(pruned, config, total_steps)
  wrappers = pruning_wrappers(pruned)
  if not wrappers:
    raise errors.UserError(f'{config.model_dir}: no trainable prunable layers '
                     f'({", ".join(t.__name__ for t in PRUNED_TYPES)})')
  train_data, val_data = _datasets(config, spec, global_batch,
                                   loaded.uses_image)
  start = time.monotonic()
  history = pruned.fit(
      train_data, epochs=config.epochs, steps_per_epoch=steps_per_epoch,
      validation_data=val_data,
      validation_steps=config.validation_steps or None,
      callbacks=(_callbacks(config, output, chief, steps, steps_per_epoch) +
                 list(extra_callbacks)),
      verbose=fit_setup.keras_verbose(config))
  seconds = time.monotonic() - start
  sparsity = achieved_sparsity(wrappers)
  with strategy.scope():
    stripped = strip_pruning(pruned)
    fit_setup.compile_model(stripped, config, total_steps)
  val_metrics = stripped.evaluate(val_data,
                                  steps=config.validation_steps or None,
                                  return_dict=True, verbose=0)
  summary = outputs.history_summary(history, val_metrics, seconds, strategy,
                                    global_batch)
  below = check_sparsity(sparsity, config, steps, total_steps)
  summary.update({
      'sparsity': sparsity, 'sparsity_reached': not below,
      'schedule_steps': dataclasses.asdict(steps), 'total_steps': total_steps,
      'pruned_layers': [w.layer.name for w in wrappers],
      'kept_dense': kept_dense(loaded.model, config.keep_dense),
      'wrappers_left': len(pruning_wrappers(stripped)),
      'unpruned_size': sizes.saved_weights_size(config.model_dir),
  })
  if below:
    print(f'vqa prune: warning: below the target sparsity: {below}',
          file=sys.stderr)
  return outputs.save_outputs(
      stripped, config, spec, output, chief, summary,
      model_config=loaded.model_config,
      extra={'pruning': {'source_model': config.model_dir,
                         'sparsity': sparsity['overall']}},
      after_save=lambda path: {'size': sizes.saved_weights_size(path)})


if __name__ == '__main__':
  sys.exit(entry_point.refuse_direct_run('prune', 'trainer.fit.prune'))
