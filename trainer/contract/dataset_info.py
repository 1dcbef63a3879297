"""answers.json and metadata.json, typed: what `vqa preprocess` writes beside
the records.

One function gives each file's text and one reads it back; everything else
uses the attributes. The JSON shape is the one every earlier run wrote, so old
outputs load (keys added later have defaults). No TensorFlow at import time:
Beam workers import this module, and the readers take the text or open the
file with tf.io.gfile inside the function.
"""
import dataclasses
import json

from trainer.contract import errors
from trainer.contract import record_spec


class DatasetInfoError(errors.UserError):
  """answers.json or metadata.json lacks a key or holds a wrong type."""


@dataclasses.dataclass(frozen=True)
class AnswerVocabulary:
  """answers.json: the answers (index = label) and their training counts."""
  answers: tuple
  counts: tuple = ()

  def to_json(self):
    return {'answers': list(self.answers), 'counts': list(self.counts)}


@dataclasses.dataclass(frozen=True)
class TokenizerInfo:
  """The tokenizer the questions were encoded with."""
  name: str
  vocab_size: int
  files: tuple = ()
  max_question_tokens: int = 0
  dir: str = ''

  def to_json(self):
    return dict(dataclasses.asdict(self), files=list(self.files))


@dataclasses.dataclass(frozen=True)
class AnswersSummary:
  num_answers: int
  source_split: str  # the training split, or the reused answers.json


@dataclasses.dataclass(frozen=True)
class SplitInputs:
  """The files a split was read from (annotations '' when unlabelled)."""
  questions: str
  annotations: str = ''


@dataclasses.dataclass(frozen=True)
class DatasetMetadata:
  """metadata.json.

  Attributes:
    config: the preprocessing settings as written (PreprocessConfig's fields).
    tokenizer: TokenizerInfo.
    answers: AnswersSummary.
    counts: {split: accounting counts (questions, written, filtered,
      rejected, events)}.
    features: the record features, as record_spec.describe_features.
    shards: {split: shard glob}.
    inputs: {split: SplitInputs}; empty for outputs of older runs.
    source: where it was read from ('' when built in memory); not written.
  """
  config: dict = dataclasses.field(default_factory=dict)
  tokenizer: TokenizerInfo = None
  answers: AnswersSummary = None
  counts: dict = dataclasses.field(default_factory=dict)
  features: tuple = ()
  shards: dict = dataclasses.field(default_factory=dict)
  inputs: dict = dataclasses.field(default_factory=dict)
  source: str = dataclasses.field(default='', compare=False)

  @property
  def max_question_tokens(self):
    return self.config['max_question_tokens']

  @property
  def image_size(self):
    return self.config['image_size']

  @property
  def unlabelled_splits(self):
    return tuple(self.config.get('unlabelled_splits', ()))

  @property
  def splits(self):
    """The preprocessed splits, sorted."""
    return sorted(self.counts)

  def written(self, split):
    return self.counts[split]['written']

  def questions(self, split):
    """Questions in the split's input files, written or not."""
    return self.counts[split]['questions']

  def check_split(self, split, flag='--split'):
    """ValueError naming metadata.json unless `split` was preprocessed."""
    if split not in self.counts:
      source = self.source or record_spec.METADATA_FILENAME
      raise errors.UserError(f'{flag} {split!r}: not in {source} (preprocessed: '
                       f'{", ".join(self.splits)})')

  def to_json(self):
    return {
        'config': dict(self.config),
        'tokenizer': self.tokenizer.to_json(),
        'answers': dataclasses.asdict(self.answers),
        'counts': dict(self.counts),
        'features': list(self.features),
        'shards': dict(self.shards),
        'inputs': {split: dataclasses.asdict(files)
                   for split, files in self.inputs.items()},
    }


def _dumps(value):
  return json.dumps(value, indent=2, sort_keys=True)


def answers_text(vocabulary):
  """answers.json's text for an AnswerVocabulary."""
  return _dumps(vocabulary.to_json())


def metadata_text(metadata):
  """metadata.json's text for a DatasetMetadata."""
  return _dumps(metadata.to_json())


def _loads(text, path):
  try:
    value = json.loads(text)
  except json.JSONDecodeError as e:
    raise DatasetInfoError(f'{path}: not valid JSON ({e})') from e
  if not isinstance(value, dict):
    raise DatasetInfoError(f'{path}: expected a JSON object')
  return value


def _get(section, key, kind, path, where='', default=None):
  """section[key], checked to be a `kind`; `default` when given and absent."""
  name = f'{where}.{key}' if where else key
  if key not in section:
    if default is not None:
      return default
    raise DatasetInfoError(f'{path}: missing key {name!r}; was it written by '
                           '`vqa preprocess`?')
  value = section[key]
  if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
    raise DatasetInfoError(f'{path}: {name!r} is {value!r}, expected '
                           f'{getattr(kind, "__name__", kind)}')
  return value


def parse_answers(text, path):
  """An AnswerVocabulary from answers.json's text; `path` names it in errors."""
  value = _loads(text, path)
  answers = _get(value, 'answers', list, path)
  if not answers or not all(isinstance(a, str) for a in answers):
    raise DatasetInfoError(f'{path}: expected {{"answers": [str, ...]}}')
  return AnswerVocabulary(tuple(answers), tuple(_get(value, 'counts', list,
                                                     path, default=[])))


def _parse_config(value, path):
  config = _get(value, 'config', dict, path)
  for key in ('max_question_tokens', 'image_size'):
    _get(config, key, int, path, 'config')
  _get(config, 'unlabelled_splits', list, path, 'config', default=[])
  return config


def _parse_tokenizer(value, path):
  tokenizer = _get(value, 'tokenizer', dict, path)
  get = lambda key, kind, default=None: _get(tokenizer, key, kind, path,
                                             'tokenizer', default)
  return TokenizerInfo(
      name=get('name', str), vocab_size=get('vocab_size', int),
      files=tuple(get('files', list, [])),
      max_question_tokens=get('max_question_tokens', int, 0),
      dir=get('dir', str, ''))


def _parse_counts(value, path):
  counts = _get(value, 'counts', dict, path)
  for split, entry in counts.items():
    if not isinstance(entry, dict):
      raise DatasetInfoError(f'{path}: counts.{split} is {entry!r}, expected '
                             'an object')
    for key in ('questions', 'written'):
      _get(entry, key, int, path, f'counts.{split}')
  return counts


def _parse_inputs(value, path):
  inputs = _get(value, 'inputs', dict, path, default={})
  return {split: SplitInputs(
      questions=_get(files, 'questions', str, path, f'inputs.{split}'),
      annotations=_get(files, 'annotations', str, path, f'inputs.{split}', ''))
          for split, files in inputs.items()}


def parse_metadata(text, path):
  """A DatasetMetadata from metadata.json's text; `path` names it in errors."""
  value = _loads(text, path)
  answers = _get(value, 'answers', dict, path)
  return DatasetMetadata(
      config=_parse_config(value, path),
      tokenizer=_parse_tokenizer(value, path),
      answers=AnswersSummary(
          _get(answers, 'num_answers', int, path, 'answers'),
          _get(answers, 'source_split', str, path, 'answers')),
      counts=_parse_counts(value, path),
      features=tuple(_get(value, 'features', list, path, default=[])),
      shards=_get(value, 'shards', dict, path, default={}),
      inputs=_parse_inputs(value, path),
      source=path)


def _read_text(path):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if not tf.io.gfile.exists(path):
    raise errors.MissingInput(f'{path}: not found; run `vqa preprocess` first')
  with tf.io.gfile.GFile(path) as f:
    return f.read()


def read_answers(data_dir):
  """The AnswerVocabulary of a `vqa preprocess` output folder."""
  path = record_spec.answers_path(data_dir)
  return parse_answers(_read_text(path), path)


def read_metadata(data_dir):
  """The DatasetMetadata of a `vqa preprocess` output folder."""
  path = record_spec.metadata_path(data_dir)
  return parse_metadata(_read_text(path), path)


def read_dataset_info(data_dir):
  """(AnswerVocabulary, DatasetMetadata) of a `vqa preprocess` output folder."""
  return read_answers(data_dir), read_metadata(data_dir)
