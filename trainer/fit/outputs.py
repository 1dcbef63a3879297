"""After a fit: its summary (history.json) and the saved MODEL_DIR."""
import os

import tensorflow as tf

from trainer.contract import errors
from trainer.fit import convergence
from trainer.measure import image_check
from trainer.models import model_io
from trainer.serve import export


def check_output_free(config, output):
  """A UserError when --output holds a finished fit (its history.json) and
  --overwrite is not given: running again must not replace a trained model
  silently. An interrupted run (no history.json) resumes instead."""
  finished = os.path.join(output, model_io.HISTORY_FILE)
  if not config.overwrite and tf.io.gfile.exists(finished):
    raise errors.UserError(
        f'{output} already holds a finished model ({model_io.HISTORY_FILE}); '
        'choose another --output, or pass --overwrite to train it again')


def history_summary(history, val_metrics, seconds, strategy, global_batch):
  """What history.json records about a fit."""
  return {'history': {k: [float(v) for v in values]
                      for k, values in history.history.items()},
          'val': {k: float(v) for k, v in val_metrics.items()},
          'train_seconds': seconds, 'epochs_run': len(history.epoch),
          'first_epoch': history.epoch[0] if history.epoch else None,
          'global_batch_size': global_batch,
          'replicas': strategy.num_replicas_in_sync}


def run_image_check(logits_of, config, spec, global_batch):
  """The image-branch check of a fitted model (`logits_of`: its
  inference.logits_function), or None (no image, or
  config.image_check_questions is 0)."""
  if not (config.model.uses_image and config.image_check_questions):
    return None
  return image_check.measure(logits_of, spec,
                             config.val_split, global_batch,
                             config.image_check_questions)


def add_choices_and_image_check(summary, choices, logits_of, config, spec,
                                global_batch, chief):
  """Adds the decided defaults, the image-branch check and the convergence
  check (printed by the chief) to a fit's summary."""
  summary['choices'] = [choice.to_dict() for choice in choices]
  summary['image_check'] = run_image_check(logits_of, config, spec,
                                            global_batch)
  summary['convergence'] = convergence.check(summary['history'])
  if chief:
    image_check.print_check(summary['image_check'])
    note = convergence.describe(summary['convergence'])
    if note:
      print(note, flush=True)


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
