"""The `vqa predict` job (its config: predict_config.py)."""
import os
import sys

import tensorflow as tf
import tensorflow_text  # pylint: disable=unused-import  (registers the tokenizer ops)

from trainer.contract import entry_point
from trainer.contract import errors
from trainer.serve import export
from trainer.serve import litert_bundle
from trainer.serve import request_inputs
from trainer.serve import serve_config
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


def read_requests(batch_path):
  """[(image path, question)] from a JSONL file (local or gs://)."""
  with tf.io.gfile.GFile(batch_path) as f:
    return litert_bundle.parse_requests(f.read(), batch_path)


def read_image(path, limits=serve_config.UploadLimits()):
  """The image file's bytes, checked as `vqa serve` checks an upload (an
  image Pillow reads, within the size and pixel limits); a UserError naming
  the file otherwise."""
  if not tf.io.gfile.exists(path):
    raise errors.MissingInput(f'{path}: not found')
  with tf.io.gfile.GFile(path, 'rb') as f:
    data = f.read()
  try:
    return request_inputs.checked_image(data, limits).data
  except request_inputs.ImageRefused as e:
    raise errors.UserError(f'{path}: {e}') from e


def predict(serve, requests, images=None):
  """[(question, [(answer, probability)])] for [(image path, question)]
  (`images`: their bytes, when already read)."""
  images = images or [read_image(path) for path, _ in requests]
  outputs = serve(image_bytes=tf.constant(images),
                  question=tf.constant([q for _, q in requests]))
  answers = outputs['answers'].numpy()
  probabilities = outputs['probabilities'].numpy()
  return [(question, [(a.decode(), float(p)) for a, p in zip(row_a, row_p)])
          for (_, question), row_a, row_p in zip(requests, answers,
                                                  probabilities)]


def run(config):
  """[(question, [(answer, probability), ...])] for the config's requests."""
  config.check()
  requests = (read_requests(config.batch) if config.batch
              else [(config.image, config.question)])
  # Every image is checked before the model is loaded (seconds).
  images = [read_image(path) for path, _ in requests]
  return predict(load_serving_function(config.model_dir), requests, images)


if __name__ == '__main__':
  sys.exit(entry_point.refuse_direct_run('predict', 'trainer.serve.predict'))
