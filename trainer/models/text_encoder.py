"""The question encoder: a pretrained BERT as a tf-keras `TFBertModel`.

`resolve_text_encoder_dir` turns a spec (the bundled all-MiniLM-L6-v2, a local
or gs:// directory, or a Hugging Face hub name) into a local directory that
`TFBertModel.from_pretrained` loads. PyTorch-layout `model.safetensors`
checkpoints are converted once, without torch, and cached: transformers' own
TF loader cannot read safetensors files (`'builtins.safe_open' object is not
iterable`) and its PyTorch path needs torch.

TensorFlow and transformers are imported inside the functions that need them,
so importing this module is cheap and has no side effects.
"""
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile

from trainer.contract import bundled
from trainer.contract import errors
from trainer.models import model_config

DEFAULT_TEXT_ENCODER = model_config.DEFAULT_TEXT_ENCODER
CACHE_DIR_ENV = 'VQA_CACHE_DIR'
# Converted checkpoints live in this folder of the cache directory.
CACHE_SUBDIR = 'text_encoders'
# Bump when the conversion changes, so that stale cached copies are not used.
CONVERSION_VERSION = 1
TF_WEIGHTS = 'tf_model.h5'
SAFETENSORS_WEIGHTS = 'model.safetensors'
CONFIG = 'config.json'
# Written next to a converted checkpoint: what was (not) loaded.
CONVERSION_INFO = 'conversion.json'
# BertModel's pooler (dense + tanh on [CLS]) is not part of the encoder proper:
# sentence-transformers checkpoints may omit it, and 'mean' pooling ignores it.
POOLER_MARKER = '.pooler.'

_logger = logging.getLogger(__name__)


def _transformers():
  """The transformers package, its own notices off: the checkpoint is
  checked here (_check_missing), and its TensorFlow deprecation notice
  concerns a version this project pins below."""
  import transformers  # pylint: disable=g-import-not-at-top
  transformers.logging.set_verbosity_error()
  return transformers


class TextEncoderError(errors.UserError):
  """The text encoder cannot be found, downloaded or converted."""


def default_cache_dir():
  """$VQA_CACHE_DIR, or ~/.cache/vqa."""
  return (os.environ.get(CACHE_DIR_ENV) or
          os.path.join(os.path.expanduser('~'), '.cache', 'vqa'))


def small_bert_config(**overrides):
  """A tiny BertConfig (2 layers, hidden 32) for fast tests of downstream code.

  Args:
    **overrides: BertConfig fields to change, e.g. num_hidden_layers=1.

  Returns:
    A `transformers.BertConfig` with BERT's uncased vocabulary size.
  """
  transformers = _transformers()
  fields = dict(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                num_attention_heads=2, intermediate_size=64)
  fields.update(overrides)
  return transformers.BertConfig(**fields)


def build_random_text_encoder(config=None):
  """A randomly initialised, built TFBertModel (default: small_bert_config())."""
  transformers = _transformers()
  model = transformers.TFBertModel(config or small_bert_config())
  model.build_in_name_scope()
  return model


def masked_mean(hidden_states, attention_mask):
  """Mean of the hidden states over the unmasked tokens.

  Args:
    hidden_states: [batch, tokens, hidden] float tensor.
    attention_mask: [batch, tokens], 1 for real tokens and 0 for padding.

  Returns:
    A [batch, hidden] tensor; zeros for a row without any real token.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  mask = tf.cast(attention_mask, hidden_states.dtype)[:, :, tf.newaxis]
  total = tf.reduce_sum(hidden_states * mask, axis=1)
  count = tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
  return total / count


def sentence_embedding(model, input_ids, attention_mask, training=False):
  """Masked mean of a TFBertModel's last hidden states: [batch, hidden]."""
  outputs = model(input_ids=input_ids, attention_mask=attention_mask,
                  training=training)
  return masked_mean(outputs.last_hidden_state, attention_mask)


def load_text_encoder(spec=DEFAULT_TEXT_ENCODER, cache_dir=None):
  """Loads the pretrained text encoder named by `spec`.

  Args:
    spec: as for `resolve_text_encoder_dir`.
    cache_dir: as for `resolve_text_encoder_dir`.

  Returns:
    (model, config): a `transformers.TFBertModel` and its `BertConfig`.

  Raises:
    TextEncoderError: the checkpoint cannot be found or lacks encoder weights.
  """
  transformers = _transformers()
  directory = resolve_text_encoder_dir(spec, cache_dir)
  model, info = transformers.TFBertModel.from_pretrained(
      directory, output_loading_info=True)
  _check_missing(info['missing_keys'], directory)
  _warn_if_random_pooler(directory)
  return model, model.config


def resolve_text_encoder_dir(spec=DEFAULT_TEXT_ENCODER, cache_dir=None):
  """Returns a local directory with a TF BERT checkpoint for `spec`.

  Args:
    spec: DEFAULT_TEXT_ENCODER (the bundled all-MiniLM-L6-v2); a local
      directory with config.json and tf_model.h5 or model.safetensors; a
      gs:// (or other tf.io.gfile) directory of the same; or a Hugging Face
      hub name such as 'bert-base-uncased' (needs network or the hub cache).
    cache_dir: where converted and copied checkpoints are kept (in its
      'text_encoders' folder); default: `default_cache_dir()`.

  Returns:
    A local directory with config.json and tf_model.h5.

  Raises:
    TextEncoderError: no usable checkpoint for `spec`.
  """
  cache_root = os.path.join(cache_dir or default_cache_dir(), CACHE_SUBDIR)
  if spec == DEFAULT_TEXT_ENCODER:
    return _resolve_local(_bundled_dir(), spec, cache_root)
  if '://' in spec:
    return _resolve_remote(spec.rstrip('/'), cache_root)
  local = os.path.expanduser(spec)
  if os.path.isdir(local):
    return _resolve_local(local, spec, cache_root)
  if _looks_like_path(spec):
    raise TextEncoderError(f'text encoder {spec!r}: no such directory')
  return _resolve_hub(spec, cache_root)


def _bundled_dir():
  try:
    return bundled.bundled_model_dir()
  except bundled.BundledModelMissing as e:
    raise TextEncoderError(str(e)) from e


def _looks_like_path(spec):
  # A hub name is 'name' or 'org/name'; anything else must be a directory.
  return spec.startswith(('/', '.', '~')) or spec.count('/') > 1


def _resolve_local(directory, spec, cache_root):
  """A local directory: used as is (tf_model.h5), or converted and cached."""
  if not os.path.isfile(os.path.join(directory, CONFIG)):
    raise TextEncoderError(f'text encoder {spec!r}: {directory} has no {CONFIG}')
  if os.path.isfile(os.path.join(directory, TF_WEIGHTS)):
    return directory
  weights = os.path.join(directory, SAFETENSORS_WEIGHTS)
  if not os.path.isfile(weights):
    raise _no_weights_error(spec, directory)
  stat = os.stat(weights)
  key = (os.path.realpath(weights), stat.st_size, stat.st_mtime_ns)
  target = _cache_entry(cache_root, spec, key)
  return _build_once(target, lambda tmp: convert_safetensors(directory, tmp))


def _resolve_remote(url, cache_root):
  """A gs:// directory: copied (and converted if need be) into the cache."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if not tf.io.gfile.exists(f'{url}/{CONFIG}'):
    raise TextEncoderError(f'text encoder {url!r}: no {CONFIG} there')
  for name in (TF_WEIGHTS, SAFETENSORS_WEIGHTS):
    weights = f'{url}/{name}'
    if tf.io.gfile.exists(weights):
      stat = tf.io.gfile.stat(weights)
      target = _cache_entry(cache_root, url, (weights, stat.length,
                                              stat.mtime_nsec))
      return _build_once(target,
                         lambda tmp, name=name: _fetch_remote(url, name, tmp))
  raise _no_weights_error(url, url)


def _fetch_remote(url, weights_name, target):
  """Copies config.json and the weights to `target`, converting safetensors."""
  if weights_name == TF_WEIGHTS:
    _copy_files(url, (CONFIG, TF_WEIGHTS), target)
    return
  with tempfile.TemporaryDirectory(prefix='.download-',
                                   dir=os.path.dirname(target)) as download:
    _copy_files(url, (CONFIG, SAFETENSORS_WEIGHTS), download)
    convert_safetensors(download, target, source_name=url)


def _copy_files(url, names, directory):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  for name in names:
    tf.io.gfile.copy(f'{url}/{name}', os.path.join(directory, name),
                     overwrite=True)


def _resolve_hub(name, cache_root):
  """A hub name: downloads config.json and TF or safetensors weights."""
  import huggingface_hub  # pylint: disable=g-import-not-at-top
  from huggingface_hub import errors as hub_errors  # pylint: disable=g-import-not-at-top
  try:
    config = huggingface_hub.hf_hub_download(name, CONFIG)
  except (OSError, ValueError) as e:
    raise TextEncoderError(
        f'text encoder {name!r}: not a local or gs:// directory, and its '
        f'{CONFIG} could not be downloaded from the Hugging Face hub (offline, '
        f'or no such model?): {type(e).__name__}: {e}; pass --text-encoder '
        f'{model_config.DEFAULT_TEXT_ENCODER} (bundled, no download) or a '
        'local or gs:// directory holding the checkpoint') from e
  directory = os.path.dirname(config)
  for weights in (TF_WEIGHTS, SAFETENSORS_WEIGHTS):
    try:
      huggingface_hub.hf_hub_download(name, weights)
    except hub_errors.EntryNotFoundError:
      continue  # Not in the repository (or not cached while offline).
    except (OSError, ValueError) as e:
      raise TextEncoderError(
          f'text encoder {name!r}: downloading {weights} from the Hugging '
          f'Face hub failed: {type(e).__name__}: {e}') from e
    return _resolve_local(directory, name, cache_root)
  raise _no_weights_error(name, f'the hub repository {name}')


def _no_weights_error(spec, where):
  return TextEncoderError(
      f'text encoder {spec!r}: {where} has neither {TF_WEIGHTS} nor '
      f'{SAFETENSORS_WEIGHTS} (PyTorch .bin checkpoints need torch: convert '
      'them to safetensors first)')


def _cache_entry(cache_root, spec, key):
  """cache_root/<spec's last path component>-<hash of the weights' identity>."""
  last = spec.rstrip('/').rsplit('/', 1)[-1]
  label = re.sub(r'[^A-Za-z0-9._-]+', '_', last)[:48].lstrip('._') or 'model'
  text = json.dumps([CONVERSION_VERSION, *key])
  digest = hashlib.sha256(text.encode()).hexdigest()[:12]
  return os.path.join(cache_root, f'{label}-{digest}')


def _build_once(target, build):
  """Returns `target`, first building it with build(tmp_dir) if it is absent.

  Builds in a temporary sibling then renames it, so that a killed build never
  leaves a half-written `target`.
  """
  if os.path.isdir(target):
    return target
  parent = os.path.dirname(target)
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=f'.{os.path.basename(target)}.tmp-',
                         dir=parent)
  try:
    build(tmp)
    try:
      os.rename(tmp, target)
    except OSError:
      if not os.path.isdir(target):
        raise
      # Another process finished the same build first; its copy is as good.
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return target


def convert_safetensors(source_dir, target_dir, source_name=None):
  """Converts a PyTorch-layout BERT checkpoint to a TF one, without torch.

  Args:
    source_dir: a directory with config.json and model.safetensors (a
      `BertModel` state dict, with or without the 'bert.' prefix).
    target_dir: an existing directory; receives config.json, tf_model.h5
      and conversion.json (which weights were not loaded).
    source_name: how to name the source in messages; default: source_dir.

  Returns:
    The conversion info written to conversion.json.

  Raises:
    TextEncoderError: not a BERT checkpoint, or an encoder weight is missing.
  """
  import safetensors.numpy  # pylint: disable=g-import-not-at-top
  transformers = _transformers()
  source_name = source_name or source_dir
  config = _read_bert_config(source_dir, source_name)
  model = transformers.TFBertModel(config)
  model.build_in_name_scope()
  state_dict = _with_prefix(
      safetensors.numpy.load_file(os.path.join(source_dir, SAFETENSORS_WEIGHTS)),
      model.base_model_prefix)
  info = _load_state_dict(model, state_dict, source_name)
  model.save_pretrained(target_dir)
  with open(os.path.join(target_dir, CONVERSION_INFO), 'w') as f:
    json.dump(info, f, indent=2)
  return info


def _read_bert_config(directory, source_name):
  transformers = _transformers()
  with open(os.path.join(directory, CONFIG)) as f:
    model_type = json.load(f).get('model_type')
  if model_type != 'bert':
    raise TextEncoderError(
        f'{source_name}: model_type {model_type!r} in {CONFIG}; the text '
        'encoder must be a BERT model')
  return transformers.BertConfig.from_pretrained(directory)


def _with_prefix(state_dict, prefix):
  # The TF model names its weights 'bert/...'; BertModel checkpoints do not.
  return {key if key.startswith(f'{prefix}.') else f'{prefix}.{key}': value
          for key, value in state_dict.items()}


def _load_state_dict(model, state_dict, source_name):
  """Assigns the checkpoint to `model`; fails if a weight would stay random."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from transformers import modeling_tf_pytorch_utils  # pylint: disable=g-import-not-at-top
  try:
    _, info = modeling_tf_pytorch_utils.load_pytorch_state_dict_in_tf2_model(
        model, state_dict, tf_inputs=False, allow_missing_keys=True,
        output_loading_info=True, skip_logger_warnings=True)
  except tf.errors.InvalidArgumentError as e:
    raise TextEncoderError(
        f'{source_name}: a weight does not match the shape in {CONFIG}: '
        f'{e}') from e
  missing = sorted(info['missing_keys'])
  _check_missing(missing, source_name)
  loaded = len(model.weights) - len(missing)
  used = len(state_dict) - len(info['unexpected_keys'])
  if loaded != used:
    raise TextEncoderError(
        f'{source_name}: {loaded} TF weights were set from {used} checkpoint '
        'tensors; expected one tensor per weight')
  return {
      'source': source_name,
      'loaded_weights': loaded,
      'checkpoint_tensors': len(state_dict),
      'missing_keys': missing,
      'unused_keys': sorted(info['unexpected_keys']),
      'pooler_pretrained': not any(POOLER_MARKER in k for k in missing),
  }


def _check_missing(missing_keys, source_name):
  """Raises unless the only weights absent from a checkpoint are the pooler's."""
  encoder_missing = [k for k in missing_keys if POOLER_MARKER not in k]
  if encoder_missing:
    raise TextEncoderError(
        f'{source_name}: {len(encoder_missing)} encoder weights are not in the '
        f'checkpoint and would stay at their random initialisation: '
        f'{encoder_missing[:5]}')
  if missing_keys:
    _logger.warning(
        '%s: the checkpoint has no pooler weights; the pooler (used only by '
        "'pooled' pooling) starts from its random initialisation", source_name)


def _warn_if_random_pooler(directory):
  path = os.path.join(directory, CONVERSION_INFO)
  if not os.path.isfile(path):
    return
  with open(path) as f:
    if not json.load(f).get('pooler_pretrained', True):
      _logger.warning(
          '%s: converted without pooler weights; the pooler is random',
          directory)
