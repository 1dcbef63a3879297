"""Honest model sizes: parameters, non-zero parameters, raw and gzip bytes.

A pruned model stores its zeros like any other float, so its raw file is as
large as the dense one's; only compression turns sparsity into bytes. Sizes
are therefore reported both raw and gzip-compressed (level 9), file by file.
"""
import gzip
import os

import numpy as np
import tensorflow as tf

from trainer.contract import errors
from trainer.models import model_io


def file_sizes(paths):
  """{'raw_bytes', 'gzip_bytes'} summed over `paths` (local or gs://)."""
  raw = compressed = 0
  for path in paths:
    with tf.io.gfile.GFile(path, 'rb') as f:
      data = f.read()
    raw += len(data)
    compressed += len(gzip.compress(data, compresslevel=9, mtime=0))
  return {'raw_bytes': raw, 'gzip_bytes': compressed}


def folder_bytes(folder):
  """Bytes of the files directly in `folder` (local or gs://)."""
  return sum(tf.io.gfile.stat(os.path.join(folder, name)).length
             for name in tf.io.gfile.listdir(folder))


def weight_files(model_dir):
  """The files of MODEL_DIR's saved weights (the TensorFlow checkpoint)."""
  prefix = os.path.join(model_dir, model_io.WEIGHTS_PREFIX)
  files = sorted(tf.io.gfile.glob(prefix + '.*'))
  if not files:
    raise errors.MissingInput(f'{prefix}.*: no saved weights in {model_dir}')
  return files


def saved_weights_size(model_dir):
  return file_sizes(weight_files(model_dir))


def parameter_counts(model):
  """{'parameters', 'nonzero_parameters'} over all the model's weights."""
  weights = model.get_weights()
  return {'parameters': int(sum(w.size for w in weights)),
          'nonzero_parameters': int(sum(np.count_nonzero(w)
                                        for w in weights))}
