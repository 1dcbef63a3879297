r"""VQA v2 files -> sharded gzip TFRecords, with an accounting of every question.

Run locally (DirectRunner) or on Dataflow; paths may be local or gs://:

  vqa preprocess --data-dir DIR --splits train2014,val2014 --output OUT
  vqa preprocess --data-dir gs://b/vqa --output gs://b/out \
      --runner DataflowRunner --project P --region R \
      --temp_location gs://b/tmp --setup_file ./setup.py

Flags the job does not define must be Apache Beam pipeline options (a typo
of either is refused).
"""
# The job's config, without a Beam import: `vqa preprocess --help` is quick.
import dataclasses
import functools

from beam_pipelines import images
from beam_pipelines import layout
from beam_pipelines import tokenization
from trainer.contract import errors
from trainer.contract import record_spec


class ConfigError(errors.UserError):
  """The command line or the inputs it names cannot work."""


def split_overrides(values, flag):
  overrides = {}
  for value in values or ():
    split, sep, path = value.partition('=')
    if not sep or not split or not path:
      raise ConfigError(f'{flag} {value!r}: expected SPLIT=PATH')
    overrides[split] = path
  return overrides


def _overrides_of(flag):
  """Parses a repeated SPLIT=PATH flag into {split: path}."""
  return functools.partial(split_overrides, flag=flag)


@dataclasses.dataclass
class PreprocessConfig:
  """Everything that decides the content of the output; written to metadata."""
  data_dir: str = dataclasses.field(default='', metadata={
      'folder': True,
      'help': 'folder of the official VQA v2 layout (local or gs://)'})
  output: str = dataclasses.field(default='', metadata={
      'required': True, 'folder': True, 'metavar': 'DIR',
      'help': 'output folder (local or gs://)'})
  splits: tuple = dataclasses.field(default=('train2014', 'val2014'), metadata={
      'type': record_spec.split_list,
      'help': 'comma-separated; the first one is the training split that '
              'defines the answer vocabulary'})
  top_answers: int = 10
  max_question_tokens: int = 32
  image_size: int = 224
  num_shards: int = dataclasses.field(default=8, metadata={
      'help': 'TFRecord shards per split'})
  tokenizer: str = dataclasses.field(
      default=tokenization.DEFAULT_TOKENIZER, metadata={
          'help': 'BERT WordPiece tokenizer: the bundled one, a local or '
                  'gs:// directory, or a hub name such as bert-base-uncased'})
  # An existing answers.json to reuse instead of building one.
  answers: str = dataclasses.field(default='', metadata={
      'help': 'reuse this answers.json instead of building the vocabulary '
              'from the first split'})
  questions: dict = dataclasses.field(default_factory=dict, metadata={
      'repeat': True, 'metavar': 'SPLIT=PATH',
      'parse': _overrides_of('--questions'),
      'help': 'questions file of a split (repeatable)'})  # split -> path
  annotations: dict = dataclasses.field(default_factory=dict, metadata={
      'repeat': True, 'metavar': 'SPLIT=PATH',
      'parse': _overrides_of('--annotations'),
      'help': 'annotations file of a split (repeatable)'})  # split -> path
  image_dirs: dict = dataclasses.field(default_factory=dict, metadata={
      'flag': '--image-dir', 'repeat': True, 'metavar': 'SPLIT=DIR',
      'parse': _overrides_of('--image-dir'),
      'help': 'image folder of a split (repeatable)'})  # split -> dir
  image_pattern: str = dataclasses.field(
      default=layout.DEFAULT_IMAGE_PATTERN, metadata={
          'help': 'image file name, with {split} and {image_id}'})
  unlabelled_splits: tuple = dataclasses.field(default=(), metadata={
      'type': record_spec.split_list, 'metavar': 'SPLITS',
      'help': 'comma-separated splits without annotations (test* splits are '
              'always unlabelled)'})
  max_image_pixels: int = dataclasses.field(
      default=images.DEFAULT_MAX_IMAGE_PIXELS, metadata={
          'help': 'reject larger images (decompression bombs)'})
  overwrite: bool = dataclasses.field(default=False, metadata={
      'help': 'replace the outputs of an earlier run in --output'})
  allow_missing_annotations: bool = dataclasses.field(default=False, metadata={
      'help': 'accept a labelled split where over 5 per cent of the '
              'questions have no annotation (otherwise the run fails, naming '
              'the two files)'})

  def questions_path(self, split):
    return self.questions.get(split) or layout.questions_path(self.data_dir,
                                                              split)

  def annotations_path(self, split):
    return self.annotations.get(split) or layout.annotations_path(
        self.data_dir, split)

  def image_dir(self, split):
    return self.image_dirs.get(split) or layout.image_dir(self.data_dir, split)

  def is_labelled(self, split):
    """test* splits (test2015, test-dev2015) and listed splits have no answers."""
    return record_spec.is_labelled_split(split, self.unlabelled_splits)

  @property
  def training_split(self):
    return self.splits[0]
