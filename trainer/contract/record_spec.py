"""The TFRecord contract: one tf.train.Example per question.

Defined once here and imported by the Beam pipeline (writer), the tf.data input
(parser) and the serving signature; docs/data.md shows it (a table generated
from FEATURES). TensorFlow is
imported inside the functions that need it, so that importing this module is
cheap and has no side effects.
"""
import dataclasses
import posixpath

from trainer.contract import example_proto

IMAGE_ID = 'image/id'
IMAGE_ENCODED = 'image/encoded'
QUESTION_ID = 'question/id'
QUESTION_TEXT = 'question/text'
QUESTION_INPUT_IDS = 'question/input_ids'
QUESTION_ATTENTION_MASK = 'question/attention_mask'
QUESTION_TYPE = 'question/type'
ANSWER_TYPE = 'answer/type'
ANSWER_LABEL = 'answer/label'
ANSWER_SCORES = 'answer/scores'
ANSWER_HUMAN = 'answer/human'

NUM_HUMAN_ANSWERS = 10
UNLABELLED = -1

ANSWERS_FILENAME = 'answers.json'
METADATA_FILENAME = 'metadata.json'
REJECTED_DIRNAME = 'rejected'
TOKENIZER_DIRNAME = 'tokenizer'
SHARD_PREFIX = 'part'
SHARD_SUFFIX = '.tfrecord.gz'
SHARD_NAME_TEMPLATE = '-SSSSS-of-NNNNN'


@dataclasses.dataclass(frozen=True)
class Feature:
  name: str
  dtype: str  # 'int64', 'float32' or 'string'
  length: str  # '1', 'L' (question tokens), 'K' (answers) or '10' (humans)
  meaning: str


FEATURES = (
    Feature(IMAGE_ID, 'int64', '1', 'COCO image id'),
    Feature(IMAGE_ENCODED, 'string', '1',
            'RGB JPEG, resized to the configured square size'),
    Feature(QUESTION_ID, 'int64', '1', 'VQA question id'),
    Feature(QUESTION_TEXT, 'string', '1', 'UTF-8 question as given'),
    Feature(QUESTION_INPUT_IDS, 'int64', 'L',
            'WordPiece ids, padded with 0 to L = max question tokens'),
    Feature(QUESTION_ATTENTION_MASK, 'int64', 'L', '1 for real tokens'),
    Feature(QUESTION_TYPE, 'string', '1', 'VQA question type ("" when unknown)'),
    Feature(ANSWER_TYPE, 'string', '1',
            'yes/no, number, other ("" when unlabelled)'),
    Feature(ANSWER_LABEL, 'int64', '1',
            'index in answers.json; -1 when unlabelled or outside the vocabulary'),
    Feature(ANSWER_SCORES, 'float32', 'K',
            'soft VQA target per vocabulary answer: the official accuracy it '
            'would score, the mean over the 10 leave-one-out subsets of the '
            'human answers of min(1, matches / 3)'),
    Feature(ANSWER_HUMAN, 'string', '10',
            'the ten normalised human answers (empty when unlabelled)'),
)


def _length(feature, max_question_tokens, num_answers):
  return {'1': 1, 'L': max_question_tokens, 'K': num_answers,
          '10': NUM_HUMAN_ANSWERS}[feature.length]


def describe_features(max_question_tokens, num_answers):
  """A JSON-serialisable description of the features, for metadata.json."""
  return [{'name': f.name, 'dtype': f.dtype,
           'length': _length(f, max_question_tokens, num_answers),
           'meaning': f.meaning} for f in FEATURES]


def shard_dir(output_dir, split):
  return posixpath.join(output_dir, split)


def shard_prefix(output_dir, split):
  return posixpath.join(shard_dir(output_dir, split), SHARD_PREFIX)


def shard_glob(output_dir, split):
  return shard_prefix(output_dir, split) + '-*-of-*' + SHARD_SUFFIX


def answers_path(output_dir):
  return posixpath.join(output_dir, ANSWERS_FILENAME)


def metadata_path(output_dir):
  return posixpath.join(output_dir, METADATA_FILENAME)


def tokenizer_dir(output_dir):
  """The WordPiece tokenizer files the questions were encoded with."""
  return posixpath.join(output_dir, TOKENIZER_DIRNAME)


def rejected_prefix(output_dir, split):
  return posixpath.join(output_dir, REJECTED_DIRNAME, split)


def split_list(text):
  """Split names from a comma-separated flag ('a, b' -> ('a', 'b'))."""
  return tuple(part.strip() for part in text.split(',') if part.strip())


def is_labelled_split(split, unlabelled_splits=()):
  """False for splits without annotations: test* (as in the official
  download: test2015, test-dev2015) and those listed."""
  return not (split.startswith('test') or split in unlabelled_splits)


def _pad_human_answers(human_answers):
  if len(human_answers) > NUM_HUMAN_ANSWERS:
    raise ValueError(f'expected at most {NUM_HUMAN_ANSWERS} human answers, '
                     f'got {len(human_answers)}')
  return list(human_answers) + [''] * (NUM_HUMAN_ANSWERS - len(human_answers))


def _check_length(name, values, expected):
  if len(values) != expected:
    raise ValueError(f'{name}: expected {expected} values, got {len(values)}')


def make_example(record, max_question_tokens, num_answers):
  """Serialises one question record (a dict keyed by feature name).

  Args:
    record: dict with every feature of FEATURES; strings as `str` or `bytes`,
      lists for the sequence features. `answer/human` may hold fewer than ten
      answers (padded with "").
    max_question_tokens: L.
    num_answers: K.

  Returns:
    The serialised tf.train.Example (built without TensorFlow).
  """
  def as_bytes(value):
    return value.encode('utf-8') if isinstance(value, str) else value

  values = dict(record)
  values[ANSWER_HUMAN] = _pad_human_answers(record[ANSWER_HUMAN])
  feature = {}
  for spec in FEATURES:
    value = values[spec.name]
    seq = value if spec.length != '1' else [value]
    _check_length(spec.name, seq,
                  _length(spec, max_question_tokens, num_answers))
    if spec.dtype == 'int64':
      feature[spec.name] = example_proto.int64_feature(seq)
    elif spec.dtype == 'float32':
      feature[spec.name] = example_proto.float_feature(seq)
    else:
      feature[spec.name] = example_proto.bytes_feature(
          [as_bytes(v) for v in seq])
  return example_proto.serialize_example(feature)


# Features from the keys of the pipeline's joined, labelled, tokenised
# question record (beam_pipelines/transforms.py); the image comes apart.
JOINED_RECORD_KEYS = {
    IMAGE_ID: 'image_id',
    QUESTION_ID: 'question_id',
    QUESTION_TEXT: 'question',
    QUESTION_INPUT_IDS: 'input_ids',
    QUESTION_ATTENTION_MASK: 'attention_mask',
    QUESTION_TYPE: 'question_type',
    ANSWER_TYPE: 'answer_type',
    ANSWER_LABEL: 'label',
    ANSWER_SCORES: 'scores',
    ANSWER_HUMAN: 'human_answers',
}


def make_joined_example(record, jpeg, max_question_tokens, num_answers):
  """make_example() of a joined question record and its encoded image."""
  features = {name: record[key] for name, key in JOINED_RECORD_KEYS.items()}
  features[IMAGE_ENCODED] = jpeg
  return make_example(features, max_question_tokens, num_answers)


def feature_spec(max_question_tokens, num_answers):
  """The tf.io parsing spec for `tf.io.parse_example`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  dtypes = {'int64': tf.int64, 'float32': tf.float32, 'string': tf.string}
  spec = {}
  for f in FEATURES:
    length = _length(f, max_question_tokens, num_answers)
    shape = [] if f.length == '1' else [length]
    spec[f.name] = tf.io.FixedLenFeature(shape, dtypes[f.dtype])
  return spec


def parse_examples(serialized, max_question_tokens, num_answers):
  """Parses a batch (or one) serialised Example into a dict of tensors."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  spec = feature_spec(max_question_tokens, num_answers)
  if serialized.shape.rank == 0:
    return tf.io.parse_single_example(serialized, spec)
  return tf.io.parse_example(serialized, spec)
