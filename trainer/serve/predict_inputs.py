"""What `vqa predict` reads, checked before TensorFlow loads: the requests
(one image and question, or a JSONL file of them) and each image, refused as
`vqa serve` refuses an upload, naming the file."""
import json
import os

from trainer.contract import errors
from trainer.serve import image_checks
from trainer.serve import serve_config


def _read(path, mode):
  """A local or gs:// file's content (TensorFlow only for gs://)."""
  if '://' in path:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    if not tf.io.gfile.exists(path):
      raise errors.MissingInput(f'{path}: not found')
    with tf.io.gfile.GFile(path, mode) as f:
      return f.read()
  if not os.path.isfile(path):
    raise errors.MissingInput(f'{path}: not found')
  with open(path, mode) as f:
    return f.read()


def read_requests(batch_path):
  """[(image path, question)] from a JSONL file."""
  requests = []
  for number, line in enumerate(_read(batch_path, 'r').splitlines(), 1):
    if not line.strip():
      continue
    try:
      item = json.loads(line)
      requests.append((item['image'], item['question']))
    except (json.JSONDecodeError, KeyError, TypeError) as e:
      raise errors.UserError(f'{batch_path}:{number}: expected '
                             f'{{"image": path, "question": text}} ({e})'
                             ) from e
  return requests


def read_image(path, limits=serve_config.UploadLimits()):
  """The image file's bytes, checked as `vqa serve` checks an upload (an
  image Pillow reads, within the size and pixel limits); a UserError naming
  the file otherwise."""
  try:
    return image_checks.checked_image(_read(path, 'rb'), limits).data
  except image_checks.ImageRefused as e:
    raise errors.UserError(f'{path}: {e}') from e


def checked_requests(config):
  """([(image path, question)], [image bytes]) of a PredictConfig."""
  config.check()
  requests = (read_requests(config.batch) if config.batch
              else [(config.image, config.question)])
  return requests, [read_image(path) for path, _ in requests]
