r"""VQA v2 files -> sharded gzip TFRecords, with an accounting of every question.

Run locally (DirectRunner) or on Dataflow; paths may be local or gs://:

  vqa preprocess --data-dir DIR --splits train2014,val2014 --output OUT
  python -m beam_pipelines.preprocess --data-dir gs://b/vqa --output gs://b/out \
      --runner DataflowRunner --project P --region R \
      --temp_location gs://b/tmp --setup_file ./setup.py

Unknown flags are Beam pipeline options.
"""
import argparse
import dataclasses
import logging
import sys
import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import DirectOptions
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.options.pipeline_options import StandardOptions

from beam_pipelines import accounting
from beam_pipelines import images
from beam_pipelines import layout
from beam_pipelines import sinks
from beam_pipelines import tokenization
from beam_pipelines import transforms
from beam_pipelines import vqa_json
from trainer.contract import dataset_info
from trainer.contract import record_spec


@dataclasses.dataclass
class PreprocessConfig:
  """Everything that decides the content of the output; written to metadata."""
  data_dir: str = ''
  output: str = ''
  splits: tuple = ('train2014', 'val2014')
  top_answers: int = 10
  max_question_tokens: int = 32
  image_size: int = 224
  num_shards: int = 8
  tokenizer: str = tokenization.DEFAULT_TOKENIZER
  answers: str = ''  # An existing answers.json to reuse instead of building one.
  questions: dict = dataclasses.field(default_factory=dict)  # split -> path
  annotations: dict = dataclasses.field(default_factory=dict)  # split -> path
  image_dirs: dict = dataclasses.field(default_factory=dict)  # split -> dir
  image_pattern: str = layout.DEFAULT_IMAGE_PATTERN
  unlabelled_splits: tuple = ()
  max_image_pixels: int = images.DEFAULT_MAX_IMAGE_PIXELS
  overwrite: bool = False

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


class ConfigError(ValueError):
  """The command line or the inputs it names cannot work."""


def _split_overrides(values, flag):
  overrides = {}
  for value in values or ():
    split, sep, path = value.partition('=')
    if not sep or not split or not path:
      raise ConfigError(f'{flag} {value!r}: expected SPLIT=PATH')
    overrides[split] = path
  return overrides


def build_parser():
  parser = argparse.ArgumentParser(
      prog='vqa preprocess', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  defaults = PreprocessConfig()
  parser.add_argument('--data-dir', default='',
                      help='folder of the official VQA v2 layout (local or gs://)')
  parser.add_argument('--output', required=True,
                      help='output folder (local or gs://)')
  parser.add_argument('--splits', default=','.join(defaults.splits),
                      help='comma-separated; the first one is the training '
                      'split that defines the answer vocabulary')
  parser.add_argument('--top-answers', type=int, default=defaults.top_answers)
  parser.add_argument('--max-question-tokens', type=int,
                      default=defaults.max_question_tokens)
  parser.add_argument('--image-size', type=int, default=defaults.image_size)
  parser.add_argument('--num-shards', type=int, default=defaults.num_shards,
                      help='TFRecord shards per split')
  parser.add_argument('--tokenizer', default=defaults.tokenizer,
                      help='BERT WordPiece tokenizer: the bundled '
                      f'{tokenization.DEFAULT_TOKENIZER}, a local or gs:// '
                      'directory, or a hub name such as bert-base-uncased')
  parser.add_argument('--answers', default='',
                      help='reuse this answers.json instead of building the '
                      'vocabulary from the first split')
  parser.add_argument('--questions', action='append', metavar='SPLIT=PATH',
                      help='questions file of a split (repeatable)')
  parser.add_argument('--annotations', action='append', metavar='SPLIT=PATH',
                      help='annotations file of a split (repeatable)')
  parser.add_argument('--image-dir', action='append', metavar='SPLIT=DIR',
                      help='image folder of a split (repeatable)')
  parser.add_argument('--image-pattern', default=defaults.image_pattern,
                      help='image file name, with {split} and {image_id}')
  parser.add_argument('--unlabelled-splits', default='',
                      help='comma-separated splits without annotations '
                      '(test* splits are always unlabelled)')
  parser.add_argument('--max-image-pixels', type=int,
                      default=defaults.max_image_pixels,
                      help='reject larger images (decompression bombs)')
  parser.add_argument('--overwrite', action='store_true',
                      help='replace the outputs of an earlier run in --output')
  return parser


def parse_args(argv):
  """Returns (PreprocessConfig, list of Beam pipeline arguments)."""
  args, beam_args = build_parser().parse_known_args(argv)
  config = PreprocessConfig(
      data_dir=args.data_dir.rstrip('/'),
      output=args.output.rstrip('/'),
      splits=record_spec.split_list(args.splits),
      top_answers=args.top_answers,
      max_question_tokens=args.max_question_tokens,
      image_size=args.image_size,
      num_shards=args.num_shards,
      tokenizer=args.tokenizer,
      answers=args.answers,
      questions=_split_overrides(args.questions, '--questions'),
      annotations=_split_overrides(args.annotations, '--annotations'),
      image_dirs=_split_overrides(args.image_dir, '--image-dir'),
      image_pattern=args.image_pattern,
      unlabelled_splits=record_spec.split_list(args.unlabelled_splits),
      max_image_pixels=args.max_image_pixels,
      overwrite=args.overwrite)
  return config, beam_args


def _check_numbers(config):
  if not config.splits or len(set(config.splits)) != len(config.splits):
    raise ConfigError(f'--splits {",".join(config.splits)!r}: give distinct '
                      'split names, the training split first')
  for name, value, minimum in (
      ('--top-answers', config.top_answers, 1),
      ('--max-question-tokens', config.max_question_tokens, 3),
      ('--image-size', config.image_size, 8),
      ('--num-shards', config.num_shards, 1),
      ('--max-image-pixels', config.max_image_pixels, 1)):
    if value < minimum:
      raise ConfigError(f'{name} must be >= {minimum}, got {value}')
  try:
    layout.image_filename('x', 1, config.image_pattern)
  except (KeyError, IndexError, ValueError) as e:
    raise ConfigError(f'--image-pattern {config.image_pattern!r}: use only '
                      '{split} and {image_id} ({e})') from e


def _check_inputs_exist(config):
  missing = []
  for split in config.splits:
    if not config.data_dir and split not in config.questions:
      raise ConfigError(f'{split}: give --data-dir or --questions {split}=PATH')
    paths = [config.questions_path(split)]
    if config.is_labelled(split):
      paths.append(config.annotations_path(split))
    missing += [path for path in paths if not FileSystems.exists(path)]
  if missing:
    raise ConfigError(
        'input files not found: ' + ', '.join(missing) + '. A split without '
        'annotations must be named test* or listed in --unlabelled-splits.')
  if not config.answers and not config.is_labelled(config.training_split):
    raise ConfigError(f'the first split ({config.training_split}) builds the '
                      'answer vocabulary and needs annotations; put a '
                      'labelled split first or pass --answers answers.json')


def _existing_outputs(config):
  patterns = [record_spec.metadata_path(config.output),
              record_spec.tokenizer_dir(config.output) + '/*']
  for split in config.splits:
    patterns.append(record_spec.shard_glob(config.output, split))
    patterns.append(record_spec.rejected_prefix(config.output, split) + '-*')
  found = []
  for pattern in patterns:
    for match in FileSystems.match([pattern])[0].metadata_list:
      found.append(match.path)
  return found


def _prepare_output(config):
  existing = _existing_outputs(config)
  if existing and not config.overwrite:
    raise ConfigError(f'{config.output} already holds the output of a run '
                      f'({existing[0]}, ...); pass --overwrite to replace it')
  if existing:
    try:
      FileSystems.delete(existing)
    except Exception as e:  # pylint: disable=broad-except
      raise ConfigError(
          f'--overwrite: could not delete the earlier run\'s files in '
          f'{config.output} ({e}); delete them yourself (e.g. gcloud storage '
          f'rm -r {config.output}) and run again') from e


def load_vocabulary(path):
  """Reads an answers.json written by an earlier run."""
  try:
    with FileSystems.open(path) as f:
      text = f.read().decode('utf-8')
  except (IOError, OSError, UnicodeDecodeError) as e:
    raise ConfigError(f'--answers {path}: cannot be read ({e})') from e
  try:
    return dataset_info.parse_answers(text, path).to_json()
  except dataset_info.DatasetInfoError as e:
    raise ConfigError(f'--answers {e}') from e


def validate(config):
  """Checks the configuration and the inputs before any work starts."""
  _check_numbers(config)
  _check_inputs_exist(config)


def write_json_text(text, path):
  with FileSystems.create(path, mime_type='application/json') as f:
    f.write(text.encode('utf-8'))
  return path


def write_answers(vocabulary, path):
  """answers.json from the pipeline's {'answers': [...], 'counts': [...]}."""
  return write_json_text(dataset_info.answers_text(
      dataset_info.AnswerVocabulary(tuple(vocabulary['answers']),
                                    tuple(vocabulary['counts']))), path)


def write_tokenizer_files(tokenizer_files, output):
  """Keeps the exact tokenizer next to the records (training and serving use it)."""
  directory = record_spec.tokenizer_dir(output)
  for name, content in sorted(tokenizer_files.items()):
    with FileSystems.create(f'{directory}/{name}') as f:
      f.write(content)
  return directory


def build_metadata(outcome_counts, vocabulary, config, tokenizer_info):
  return dataset_info.DatasetMetadata(
      config=dataclasses.asdict(config),
      tokenizer=dataset_info.TokenizerInfo(**tokenizer_info),
      answers=dataset_info.AnswersSummary(
          num_answers=len(vocabulary['answers']),
          source_split=(config.training_split if not config.answers
                        else config.answers)),
      counts=accounting.build_counts(outcome_counts, config.splits),
      features=tuple(record_spec.describe_features(
          config.max_question_tokens, len(vocabulary['answers']))),
      shards={split: record_spec.shard_glob(config.output, split)
              for split in config.splits},
      inputs={split: input_files(config, split) for split in config.splits})


def input_files(config, split):
  """The question and annotation files a split was read from, so that
  `vqa evaluate` can answer every question of them (annotations '' when
  unlabelled)."""
  return dataset_info.SplitInputs(
      questions=config.questions_path(split),
      annotations=(config.annotations_path(split)
                   if config.is_labelled(split) else ''))


def _write_metadata(outcome_counts, vocabulary, config, tokenizer_info):
  metadata = build_metadata(outcome_counts, vocabulary, config, tokenizer_info)
  return write_json_text(dataset_info.metadata_text(metadata),
                         record_spec.metadata_path(config.output))


def _read_and_join(pipeline, split, config):
  """Reads a split's questions (and annotations) and joins them."""
  label = lambda name: f'{name}[{split}]'
  questions = pipeline | label('ReadQuestions') >> transforms.ReadQuestions(
      split, config.questions_path(split))
  to_join = {'questions': questions.questions}
  outcomes = [questions[transforms.OUTCOMES]]
  if config.is_labelled(split):
    annotations = pipeline | label('ReadAnnotations') >> (
        transforms.ReadAnnotations(split, config.annotations_path(split)))
    to_join['annotations'] = annotations.annotations
    outcomes.append(annotations[transforms.OUTCOMES])
  joined = to_join | label('JoinAnnotations') >> transforms.JoinAnnotations(
      split, config.is_labelled(split))
  outcomes.append(joined[transforms.OUTCOMES])
  rejected = [questions[transforms.REJECTED], joined[transforms.REJECTED]]
  return joined.records, outcomes, rejected


def _image_source(split, config):
  return transforms.ImageSource(split, config.image_dir(split),
                                config.image_pattern, config.image_size,
                                config.max_image_pixels)


def _encode_and_write(records, split, config, vocabulary, tokenizer_files):
  """Labels and tokenises one split's records, then encodes and writes them."""
  label = lambda name: f'{name}[{split}]'
  labelled = records | label('AssignLabels') >> transforms.AssignLabels(
      vocabulary, is_training=(split == config.training_split))
  tokenized = labelled.records | label('Tokenize') >> beam.ParDo(
      transforms.TokenizeQuestions(tokenizer_files, config.max_question_tokens)
  ).with_outputs(transforms.OUTCOMES, main='records')
  written = tokenized.records | label('WriteShards') >> (
      transforms.WriteExampleShards(
          _image_source(split, config),
          record_spec.shard_prefix(config.output, split), config.num_shards,
          config.max_question_tokens, vocabulary))
  outcomes = [labelled[transforms.OUTCOMES], tokenized[transforms.OUTCOMES],
              written[transforms.OUTCOMES]]
  return outcomes, written[transforms.REJECTED]


def _write_rejected(rejected, split, config):
  label = lambda name: f'{name}[{split}]'
  return (
      rejected
      | label('FlattenRejected') >> beam.Flatten()
      | label('KeyRejected') >> beam.Map(
          lambda record: (record['question_id'], record))
      | label('WriteRejected') >> sinks.WriteShards(
          record_spec.rejected_prefix(config.output, split), 1, '.jsonl',
          frame=sinks.jsonl_line,
          compression=beam.io.filesystem.CompressionTypes.UNCOMPRESSED))


def build_pipeline(pipeline, config, tokenizer_files, tokenizer_info,
                   vocabulary=None):
  """Adds every step; `vocabulary` is given when reusing an answers.json."""
  outcomes = []
  vocabulary_pc = None
  if vocabulary is not None:
    vocabulary_pc = pipeline | 'ReuseVocabulary' >> beam.Create([vocabulary])
  for split in config.splits:
    records, split_outcomes, rejected = _read_and_join(pipeline, split, config)
    if vocabulary_pc is None:
      vocabulary_pc = records | 'BuildVocabulary' >> transforms.BuildVocabulary(
          config.top_answers)
    more_outcomes, more_rejected = _encode_and_write(
        records, split, config, vocabulary_pc, tokenizer_files)
    _write_rejected(rejected + [more_rejected], split, config)
    outcomes += split_outcomes + more_outcomes
  _ = vocabulary_pc | 'WriteAnswers' >> beam.Map(
      write_answers, record_spec.answers_path(config.output))
  _ = (
      outcomes
      | 'FlattenOutcomes' >> beam.Flatten()
      | 'CountOutcomes' >> transforms.CountOutcomes()
      | 'WriteMetadata' >> beam.Map(
          _write_metadata, vocabulary=beam.pvalue.AsSingleton(vocabulary_pc),
          config=config, tokenizer_info=tokenizer_info))


def pipeline_options(beam_args):
  """Beam options; locally, DirectRunner in memory (one process) by default.

  In memory, bundles pass between steps without gRPC or extra processes,
  which on a small machine costs the least CPU. The multi_threading mode was
  1.3-1.8x faster on 2 cores, but it lost records between steps in two of
  four runs of 15,000 questions and in a full-size run (caught by the
  accounting: exit status 1), so it is left to an explicit
  --direct_running_mode (benchmarks/RESULTS.md).
  """
  options = PipelineOptions(beam_args)
  standard = options.view_as(StandardOptions)
  if not standard.runner:
    standard.runner = 'DirectRunner'
    direct = options.view_as(DirectOptions)
    if not any(arg.startswith('--direct_running_mode') for arg in beam_args):
      direct.direct_running_mode = 'in_memory'
      direct.direct_num_workers = 1
  return options


def tokenizer_summary(config, tokenizer_files):
  tokenizer = tokenization.QuestionTokenizer(tokenizer_files,
                                             config.max_question_tokens)
  return {'name': config.tokenizer, 'vocab_size': tokenizer.vocab_size,
          'files': sorted(tokenizer_files),
          'max_question_tokens': config.max_question_tokens}


def read_metadata(output):
  """The DatasetMetadata a run wrote (through Beam's file systems)."""
  path = record_spec.metadata_path(output)
  with FileSystems.open(path) as f:
    return dataset_info.parse_metadata(f.read().decode('utf-8'), path)


def beam_counters(result):
  """{counter name: value} from a finished pipeline, summed over steps."""
  counters = {}
  for counter in result.metrics().query()['counters']:
    value = counter.committed
    if value is None:  # Some runners only report attempted values.
      value = counter.attempted
    name = counter.key.metric.name
    counters[name] = counters.get(name, 0) + value
  return counters


def run_preprocess(config, beam_args=()):
  """Validates, runs the pipeline to completion.

  Returns:
    (metadata, counters): the DatasetMetadata written and the Beam counters.
  """
  validate(config)
  vocabulary = load_vocabulary(config.answers) if config.answers else None
  tokenizer_files = tokenization.resolve_tokenizer_files(config.tokenizer)
  tokenizer_info = tokenizer_summary(config, tokenizer_files)
  _prepare_output(config)
  tokenizer_info['dir'] = write_tokenizer_files(tokenizer_files, config.output)
  pipeline = beam.Pipeline(options=pipeline_options(list(beam_args)))
  build_pipeline(pipeline, config, tokenizer_files, tokenizer_info, vocabulary)
  result = pipeline.run()
  result.wait_until_finish()
  return read_metadata(config.output), beam_counters(result)


def _input_error_message(error):
  """The InputFileError inside a runner's exception, if there is one."""
  seen = error
  while seen is not None:
    if isinstance(seen, vqa_json.InputFileError):
      return str(seen)
    seen = seen.__cause__ or seen.__context__
  text = str(error)
  marker = 'InputFileError: '
  if marker in text:
    return text[text.rindex(marker) + len(marker):].splitlines()[0]
  return None


def main(argv=None):
  logging.getLogger().setLevel(logging.WARNING)
  # Multi-processing workers forward their start-up chatter at WARNING.
  logging.getLogger('apache_beam.runners.portability.local_job_service'
                   ).setLevel(logging.ERROR)
  try:
    config, beam_args = parse_args(sys.argv[1:] if argv is None else argv)
    start = time.monotonic()
    metadata, counters = run_preprocess(config, beam_args)
  except (ConfigError, tokenization.TokenizerError) as e:
    print(f'vqa preprocess: error: {e}', file=sys.stderr)
    return 2
  except Exception as e:  # pylint: disable=broad-except
    message = _input_error_message(e)
    if message is None:
      raise
    print(f'vqa preprocess: error: {message}', file=sys.stderr)
    return 2
  counts = metadata.counts
  print(accounting.format_summary(counts))
  print(f'images read (Beam counter, all splits): '
        f'{counters.get("images_read", 0)}')
  print(f'answers: {metadata.answers.num_answers}; output: '
        f'{config.output}; {time.monotonic() - start:.1f} s')
  if any(accounting.unaccounted(entry) for entry in counts.values()):
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
