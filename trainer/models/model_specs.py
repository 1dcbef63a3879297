"""`--models NAME=PATH ...`: the models `vqa report` and `vqa serve` take.

TensorFlow (for gs:// paths) is imported only to check that paths exist.
"""
from trainer.contract import errors


def _exists(path):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile.exists(path)


def parse_model_specs(entries, expected='a MODEL_DIR or a .tflite file',
                      must_exist=True):
  """['NAME=PATH', ...] -> ((name, path), ...), checked early.

  Raises:
    ValueError: malformed entry, repeated name, or (with `must_exist`) a path
      that does not exist.
  """
  specs = []
  for entry in entries:
    name, sep, path = entry.partition('=')
    name, path = name.strip(), path.strip()
    if not sep or not name or not path:
      raise errors.UserError(f'--models {entry!r}: expected NAME=PATH ({expected})')
    if name in dict(specs):
      raise errors.UserError(f'--models: the name {name!r} is given twice')
    if must_exist and not _exists(path):
      raise errors.UserError(f'--models {name}={path}: {path} does not exist')
    specs.append((name, path))
  if not specs:
    raise errors.UserError('--models: give at least one NAME=PATH')
  return tuple(specs)
