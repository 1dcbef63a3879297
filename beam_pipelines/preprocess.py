"""The `vqa preprocess` pipeline (its config: preprocess_config.py): VQA v2
files -> sharded gzip TFRecords, with an accounting of every question."""
import dataclasses
import sys

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from beam_pipelines import accounting
from beam_pipelines import beam_run
from beam_pipelines import outcome_tags
from beam_pipelines import preprocess_checks
from beam_pipelines import sinks
from beam_pipelines import tokenization
from beam_pipelines import transforms
from beam_pipelines import vqa_json
from beam_pipelines import write_shards
# The config and its parsing, here too for callers of the pipeline.
from beam_pipelines.preprocess_config import ConfigError
from beam_pipelines.preprocess_config import PreprocessConfig  # pylint: disable=unused-import
from beam_pipelines.preprocess_config import split_overrides  # pylint: disable=unused-import
from trainer.contract import dataset_info
from trainer.contract import entry_point
from trainer.contract import record_spec


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


def split_counts(outcome_counts, shard_counts, splits):
  """metadata's counts: the outcomes, plus the shard writer's own count of
  the records in each split's shard files ([(split, path, records)])."""
  counts = accounting.build_counts(outcome_counts, splits)
  for split, _, records in shard_counts:
    events = counts[split]['events']
    events[accounting.RECORDS_IN_SHARDS] = (
        events.get(accounting.RECORDS_IN_SHARDS, 0) + records)
    events[accounting.SHARDS_WRITTEN] = (
        events.get(accounting.SHARDS_WRITTEN, 0) + 1)
  return counts


def build_metadata(outcome_counts, vocabulary, config, tokenizer_info,
                   shard_counts=()):
  return dataset_info.DatasetMetadata(
      config=dataclasses.asdict(config),
      tokenizer=dataset_info.TokenizerInfo(**tokenizer_info),
      answers=dataset_info.AnswersSummary(
          num_answers=len(vocabulary['answers']),
          source_split=(config.training_split if not config.answers
                        else config.answers)),
      counts=split_counts(outcome_counts, shard_counts, config.splits),
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


def _write_metadata(outcome_counts, vocabulary, config, tokenizer_info,
                    shard_counts):
  metadata = build_metadata(outcome_counts, vocabulary, config, tokenizer_info,
                            shard_counts)
  return write_json_text(dataset_info.metadata_text(metadata),
                         record_spec.metadata_path(config.output))


def _no_tap(split, edge, elements):  # pylint: disable=unused-argument
  return elements


def _read_and_join(pipeline, split, config, tap):
  """Reads a split's questions (and annotations) and joins them."""
  label = lambda name: f'{name}[{split}]'
  questions = pipeline | label('ReadQuestions') >> transforms.ReadQuestions(
      split, config.questions_path(split))
  to_join = {'questions': tap(split, accounting.QUESTIONS_EDGE,
                              questions.questions)}
  outcomes = [questions[transforms.OUTCOMES]]
  if config.is_labelled(split):
    annotations = pipeline | label('ReadAnnotations') >> (
        transforms.ReadAnnotations(split, config.annotations_path(split)))
    to_join['annotations'] = tap(split, accounting.ANNOTATIONS_EDGE,
                                 annotations.annotations)
    outcomes.append(annotations[transforms.OUTCOMES])
  joined = to_join | label('JoinAnnotations') >> transforms.JoinAnnotations(
      split, config.is_labelled(split))
  outcomes.append(joined[transforms.OUTCOMES])
  rejected = [questions[transforms.REJECTED], joined[transforms.REJECTED]]
  return joined.records, outcomes, rejected


def _image_source(split, config):
  return write_shards.ImageSource(split, config.image_dir(split),
                                  config.image_pattern, config.image_size,
                                  config.max_image_pixels)


def _encode_and_write(records, split, config, vocabulary, tokenizer_files,
                      tap):
  """Labels and tokenises one split's records, then encodes and writes them.

  Returns:
    (outcomes, rejected, shard counts [(split, path, records)]).
  """
  label = lambda name: f'{name}[{split}]'
  labelled = tap(split, accounting.JOINED_EDGE, records) | label(
      'AssignLabels') >> transforms.AssignLabels(
          vocabulary, is_training=(split == config.training_split))
  tokenized = tap(split, accounting.LABELLED_EDGE, labelled.records) | label(
      'Tokenize') >> beam.ParDo(transforms.TokenizeQuestions(
          tokenizer_files, config.max_question_tokens)).with_outputs(
              transforms.OUTCOMES, main='records')
  written = tap(split, accounting.TOKENIZED_EDGE, tokenized.records) | label(
      'WriteShards') >> (
      write_shards.WriteExampleShards(
          _image_source(split, config),
          record_spec.shard_prefix(config.output, split), config.num_shards,
          config.max_question_tokens, vocabulary))
  outcomes = [labelled[transforms.OUTCOMES], tokenized[transforms.OUTCOMES],
              written[transforms.OUTCOMES]]
  shard_counts = tap(split, accounting.SHARDS_EDGE, written.shards) | label(
      'NameShards') >> beam.MapTuple(
          lambda path, records: (split, path, records))
  return outcomes, written[transforms.REJECTED], shard_counts


def _key_rejected(record):
  outcome_tags.received(record['split'], accounting.REJECTED_EDGE)
  return record['question_id'], record


def _write_rejected(rejected, split, config, tap):
  label = lambda name: f'{name}[{split}]'
  flat = rejected | label('FlattenRejected') >> beam.Flatten()
  return (
      tap(split, accounting.REJECTED_EDGE, flat)
      | label('KeyRejected') >> beam.Map(_key_rejected)
      | label('WriteRejected') >> sinks.WriteShards(
          record_spec.rejected_prefix(config.output, split), 1, '.jsonl',
          frame=sinks.jsonl_line,
          compression=beam.io.filesystem.CompressionTypes.UNCOMPRESSED))


def build_pipeline(pipeline, config, tokenizer_files, tokenizer_info,
                   vocabulary=None, between_steps=None):
  """Adds every step; `vocabulary` is given when reusing an answers.json.

  `between_steps(split, edge, pcollection)` returns what the next step
  reads instead of `pcollection` (edges: accounting.EDGES, SHARDS_EDGE and
  OUTCOMES_EDGE with split None); tests use it to lose elements on purpose.
  """
  tap = between_steps or _no_tap
  outcomes, shard_counts = [], []
  vocabulary_pc = None
  if vocabulary is not None:
    vocabulary_pc = pipeline | 'ReuseVocabulary' >> beam.Create([vocabulary])
  for split in config.splits:
    records, split_outcomes, rejected = _read_and_join(pipeline, split, config,
                                                       tap)
    if vocabulary_pc is None:
      vocabulary_pc = tap(
          split, accounting.VOCABULARY_RECORDS_EDGE, records
      ) | 'BuildVocabulary' >> transforms.BuildVocabulary(config.top_answers,
                                                          split)
    more_outcomes, more_rejected, shards = _encode_and_write(
        records, split, config, vocabulary_pc, tokenizer_files, tap)
    _write_rejected(rejected + [more_rejected], split, config, tap)
    outcomes += split_outcomes + more_outcomes
    shard_counts.append(shards)
  _ = vocabulary_pc | 'WriteAnswers' >> beam.Map(
      write_answers, record_spec.answers_path(config.output))
  all_shards = shard_counts | 'FlattenShardCounts' >> beam.Flatten()
  flat_outcomes = outcomes | 'FlattenOutcomes' >> beam.Flatten()
  _ = (
      tap(None, accounting.OUTCOMES_EDGE, flat_outcomes)
      | 'CountOutcomes' >> transforms.CountOutcomes()
      | 'WriteMetadata' >> beam.Map(
          _write_metadata, vocabulary=beam.pvalue.AsSingleton(vocabulary_pc),
          config=config, tokenizer_info=tokenizer_info,
          shard_counts=beam.pvalue.AsList(all_shards)))


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


def run_preprocess(config, beam_args=(), between_steps=None):
  """Validates, runs the pipeline to completion, checks its accounting.

  Returns:
    (metadata, counters): the DatasetMetadata written and the Beam counters.
  """
  preprocess_checks.check_beam_args(beam_args)
  preprocess_checks.validate(config)
  vocabulary = load_vocabulary(config.answers) if config.answers else None
  tokenizer_files = tokenization.resolve_tokenizer_files(config.tokenizer)
  tokenizer_info = tokenizer_summary(config, tokenizer_files)
  preprocess_checks.prepare_output(config)
  tokenizer_info['dir'] = write_tokenizer_files(tokenizer_files, config.output)
  pipeline = beam.Pipeline(
      options=beam_run.pipeline_options(list(beam_args)))
  build_pipeline(pipeline, config, tokenizer_files, tokenizer_info, vocabulary,
                 between_steps)
  result = pipeline.run()
  result.wait_until_finish()
  preprocess_checks.check_metadata_written(config)
  metadata = read_metadata(config.output)
  counters = beam_run.beam_counters(result)
  preprocess_checks.check_run(metadata, counters, config,
                              vocabulary_reused=vocabulary is not None)
  return metadata, counters


def input_error_message(error):
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


if __name__ == '__main__':
  sys.exit(entry_point.refuse_direct_run('preprocess', 'beam_pipelines.preprocess'))
