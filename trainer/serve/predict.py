"""The `vqa predict` job (its config: predict_config.py)."""
import os
import sys

import tensorflow as tf
import tensorflow_text  # pylint: disable=unused-import  (registers the tokenizer ops)

from trainer.contract import entry_point
from trainer.contract import errors
from trainer.serve import export
from trainer.serve import predict_inputs
# The job's config, here too for callers of the job.
from trainer.serve.predict_config import PredictConfig  # pylint: disable=unused-import


def load_serving_function(model_dir):
  path = os.path.join(model_dir, export.EXPORT_DIR)
  if not tf.io.gfile.exists(path):
    raise errors.MissingInput(f'{path}: no exported model; train it first')
  try:
    return tf.saved_model.load(path).signatures[export.SIGNATURE]
  except (tf.errors.NotFoundError, OSError, KeyError) as e:
    raise errors.UserError(f'{path}: not a SavedModel with a '
                           f'{export.SIGNATURE!r} signature ({e})') from e


def predict(serve, requests, images=None):
  """[(question, [(answer, probability)])] for [(image path, question)]
  (`images`: their bytes, when already read and checked)."""
  images = images or [predict_inputs.read_image(path) for path, _ in requests]
  outputs = serve(image_bytes=tf.constant(images),
                  question=tf.constant([q for _, q in requests]))
  answers = outputs['answers'].numpy()
  probabilities = outputs['probabilities'].numpy()
  return [(question, [(a.decode(), float(p)) for a, p in zip(row_a, row_p)])
          for (_, question), row_a, row_p in zip(requests, answers,
                                                  probabilities)]


def answer(model_dir, requests, images):
  """predict() with MODEL_DIR's exported model."""
  return predict(load_serving_function(model_dir), requests, images)


def run(config):
  """[(question, [(answer, probability), ...])] for the config's requests."""
  # Every image is checked before the model is loaded (seconds).
  return answer(config.model_dir, *predict_inputs.checked_requests(config))


if __name__ == '__main__':
  sys.exit(entry_point.refuse_direct_run('predict', 'trainer.serve.predict'))
