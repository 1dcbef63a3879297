"""The composite transforms of the preprocessing pipeline, in pipeline order.

Every question read produces exactly one outcome (written, filtered or rejected
with a reason) on the OUTCOMES output of the step that decides it; rejected
questions also go to the REJECTED output, which is written to rejected/.
"""
import dataclasses
import json
import sys
import time

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.metrics import Metrics

from beam_pipelines import accounting
from beam_pipelines import images
from beam_pipelines import layout
from beam_pipelines import shard_files
from beam_pipelines import tokenization
from beam_pipelines import vqa_json
from trainer.contract import record_spec
from trainer.contract import vqa_metric

OUTCOMES = 'outcomes'
REJECTED = 'rejected'
FILTERED = 'filtered'
METRICS_NAMESPACE = 'vqa_preprocess'


def rejection(split, question_id, image_id, reason, detail=''):
  return {'split': split, 'question_id': question_id, 'image_id': image_id,
          'reason': reason, 'detail': detail}


def _reject(split, question_id, image_id, reason, detail=''):
  """The two tagged outputs of a rejected question."""
  yield beam.pvalue.TaggedOutput(
      REJECTED, rejection(split, question_id, image_id, reason, detail))
  yield beam.pvalue.TaggedOutput(
      OUTCOMES, accounting.outcome(split, accounting.REJECTED, reason))


def _event(split, name):
  return beam.pvalue.TaggedOutput(
      OUTCOMES, accounting.outcome(split, accounting.EVENT, name))


def _int_or_none(value):
  return value if isinstance(value, int) and not isinstance(value, bool) else None


class _KeyQuestions(beam.DoFn):
  """Checks each question record and keys the usable ones by question_id."""

  def __init__(self, split):
    self._split = split

  def process(self, record):
    yield beam.pvalue.TaggedOutput(
        OUTCOMES, accounting.outcome(self._split, accounting.READ))
    problem = vqa_json.check_question(record)
    if problem:
      get = record.get if isinstance(record, dict) else (lambda key: None)
      yield from _reject(self._split, _int_or_none(get('question_id')),
                         _int_or_none(get('image_id')), problem)
      return
    yield record['question_id'], record


class ReadQuestions(beam.PTransform):
  """Reads a questions file into (question_id, record), tagged outputs too.

  The file is streamed by one worker; no Reshuffle follows, because the join
  by question id right after spreads the records anyway.
  """

  def __init__(self, split, path):
    super().__init__()
    self._split = split
    self._path = path

  def expand(self, pipeline):
    return (
        pipeline
        | 'ListFile' >> beam.Create([self._path])
        | 'StreamRecords' >> beam.FlatMap(vqa_json.iter_records,
                                          layout.QUESTIONS_KEY)
        | 'CheckAndKey' >> beam.ParDo(_KeyQuestions(self._split)).with_outputs(
            OUTCOMES, REJECTED, main='questions'))


def _key_annotation(record, split):
  if not vqa_json.check_annotation(record):
    question_id = (_int_or_none(record.get('question_id'))
                   if isinstance(record, dict) else None)
    if question_id is None:
      yield _event(split, accounting.MALFORMED_ANNOTATION_RECORDS)
      return
    yield question_id, None  # Known question, unusable annotation.
    return
  yield record['question_id'], vqa_json.slim_annotation(record)


class ReadAnnotations(beam.PTransform):
  """Reads an annotations file into (question_id, record or None)."""

  def __init__(self, split, path):
    super().__init__()
    self._split = split
    self._path = path

  def expand(self, pipeline):
    return (
        pipeline
        | 'ListFile' >> beam.Create([self._path])
        | 'StreamRecords' >> beam.FlatMap(vqa_json.iter_records,
                                          layout.ANNOTATIONS_KEY)
        | 'CheckAndKey' >> beam.FlatMap(_key_annotation, self._split)
        .with_outputs(OUTCOMES, main='annotations'))


def _canonical(record):
  return json.dumps(record, sort_keys=True)


def _labelled_record(split, question, annotation):
  human = vqa_json.normalized_human_answers(annotation)
  return {
      'split': split,
      'question_id': question['question_id'],
      'image_id': question['image_id'],
      'question': question['question'],
      'question_type': vqa_json.question_type(annotation),
      'answer_type': vqa_json.answer_type(annotation),
      'human_answers': human,
      'top_answer': vqa_metric.most_common_answer(human),
  }


def _unlabelled_record(split, question):
  return {
      'split': split,
      'question_id': question['question_id'],
      'image_id': question['image_id'],
      'question': question['question'],
      'question_type': '',
      'answer_type': '',
      'human_answers': [],
      'top_answer': '',
  }


def resolve_question(grouped, split, labelled):
  """Joins one question_id's questions and annotations into one record.

  Args:
    grouped: (question_id, {'questions': [...], 'annotations': [...]}).
    split: split name.
    labelled: whether this split must have an annotation per question.

  Yields:
    The joined record, plus tagged outcomes and rejections.
  """
  question_id, group = grouped
  questions = sorted(group['questions'], key=_canonical)
  annotations = list(group.get('annotations', ()))
  if not questions:
    yield _event(split, accounting.ANNOTATION_WITHOUT_QUESTION)
    return
  question, duplicates = questions[0], questions[1:]
  for duplicate in duplicates:
    yield from _reject(split, question_id, duplicate['image_id'],
                       accounting.DUPLICATE_QUESTION_ID)
  if not labelled:
    yield _unlabelled_record(split, question)
    return
  usable = sorted((a for a in annotations if a is not None), key=_canonical)
  if not annotations:
    yield from _reject(split, question_id, question['image_id'],
                       accounting.MISSING_ANNOTATION)
    return
  if not usable:
    yield from _reject(split, question_id, question['image_id'],
                       accounting.MALFORMED_ANNOTATION)
    return
  if len(annotations) > 1:
    yield _event(split, accounting.DUPLICATE_ANNOTATIONS)
  annotation = usable[0]
  if annotation.get('image_id', question['image_id']) != question['image_id']:
    yield from _reject(
        split, question_id, question['image_id'], accounting.IMAGE_ID_MISMATCH,
        f'annotation says image {annotation.get("image_id")}')
    return
  yield _labelled_record(split, question, annotation)


class JoinAnnotations(beam.PTransform):
  """Joins keyed questions with keyed annotations by question_id."""

  def __init__(self, split, labelled):
    super().__init__()
    self._split = split
    self._labelled = labelled

  def expand(self, inputs):
    return (
        inputs
        | 'GroupByQuestionId' >> beam.CoGroupByKey()
        | 'Resolve' >> beam.FlatMap(
            resolve_question, self._split, self._labelled).with_outputs(
                OUTCOMES, REJECTED, main='records'))


class _Reversed:
  """Orders strings in reverse, so that Top.Of breaks count ties by name."""

  def __init__(self, text):
    self.text = text

  def __lt__(self, other):
    return self.text > other.text

  def __eq__(self, other):
    return self.text == other.text


def _vocabulary_rank(answer_count):
  answer, count = answer_count
  return count, _Reversed(answer)


def vocabulary_from_top(top):
  """{'answers': [...], 'counts': [...]} from [(answer, count)], best first."""
  return {'answers': [answer for answer, _ in top],
          'counts': [count for _, count in top]}


class BuildVocabulary(beam.PTransform):
  """The top-K most common answers of the training split's records."""

  def __init__(self, top_answers):
    super().__init__()
    self._top_answers = top_answers

  def expand(self, records):
    return (
        records
        | 'TopAnswer' >> beam.Map(lambda record: record['top_answer'])
        | 'DropEmpty' >> beam.Filter(bool)
        | 'CountAnswers' >> beam.combiners.Count.PerElement()
        | 'TopK' >> beam.combiners.Top.Of(self._top_answers,
                                          key=_vocabulary_rank)
        | 'ToVocabulary' >> beam.Map(vocabulary_from_top))


def answer_index(vocabulary):
  return {answer: i for i, answer in enumerate(vocabulary['answers'])}


def assign_label(record, vocabulary, index, is_training):
  """Adds `label` and soft `scores`; filters training questions outside it."""
  answers = vocabulary['answers']
  labelled = dict(record)
  labelled['label'] = index.get(record['top_answer'], record_spec.UNLABELLED)
  labelled['scores'] = vqa_metric.soft_scores(record['human_answers'], answers)
  split = record['split']
  if record['human_answers'] and labelled['label'] == record_spec.UNLABELLED:
    if is_training:
      yield beam.pvalue.TaggedOutput(OUTCOMES, accounting.outcome(
          split, accounting.FILTERED, accounting.ANSWER_NOT_IN_VOCABULARY))
      return
    yield _event(split, accounting.LABEL_OUTSIDE_VOCABULARY)
  yield labelled


class AssignLabels(beam.PTransform):
  """Labels records against the vocabulary (a singleton PCollection)."""

  def __init__(self, vocabulary, is_training):
    super().__init__()
    self._vocabulary = vocabulary
    self._is_training = is_training

  def expand(self, records):
    index = self._vocabulary | 'IndexAnswers' >> beam.Map(answer_index)
    return records | 'Label' >> beam.FlatMap(
        assign_label,
        vocabulary=beam.pvalue.AsSingleton(self._vocabulary),
        index=beam.pvalue.AsSingleton(index),
        is_training=self._is_training).with_outputs(OUTCOMES, main='records')


class TokenizeQuestions(beam.DoFn):
  """Adds WordPiece `input_ids` and `attention_mask` to each record."""

  def __init__(self, tokenizer_files, max_question_tokens):
    self._tokenizer_files = tokenizer_files
    self._max_question_tokens = max_question_tokens
    self._tokenizer = None
    self._truncated = Metrics.counter(METRICS_NAMESPACE, 'truncated_questions')

  def setup(self):
    self._tokenizer = tokenization.QuestionTokenizer(
        self._tokenizer_files, self._max_question_tokens)

  def process(self, record):
    ids, mask, truncated = self._tokenizer.encode(record['question'])
    if truncated:
      self._truncated.inc()
      yield _event(record['split'], accounting.TRUNCATED_QUESTIONS)
    tokenized = dict(record)
    tokenized['input_ids'] = ids
    tokenized['attention_mask'] = mask
    yield tokenized


class _Progress:
  """Prints how far this worker has got, at most once per `every_s` seconds."""

  def __init__(self, what, every_s=10.0):
    self._what = what
    self._every_s = every_s
    self._count = 0
    self._start = self._last = time.monotonic()

  def tick(self):
    self._count += 1
    now = time.monotonic()
    if now - self._last >= self._every_s:
      self._last = now
      rate = self._count / (now - self._start)
      print(f'[preprocess] {self._what}: {self._count} on this worker '
            f'({rate:.0f}/s)', file=sys.stderr, flush=True)


@dataclasses.dataclass(frozen=True)
class ImageSource:
  """Where a split's images are, and the size and limit they are encoded to."""
  split: str
  image_dir: str
  image_pattern: str
  image_size: int
  max_pixels: int

  def path(self, image_id):
    return layout.join_path(
        self.image_dir,
        layout.image_filename(self.split, image_id, self.image_pattern))


def _read_file(path):
  """The file's bytes, or None when it does not exist."""
  # Imported here: FileSystems pulls in every registered file system.
  from apache_beam.io.filesystems import FileSystems  # pylint: disable=g-import-not-at-top
  try:
    with FileSystems.open(path, compression_type='uncompressed') as f:
      return f.read()
  except Exception:  # pylint: disable=broad-except
    if not FileSystems.exists(path):
      return None
    raise  # Transient or permission errors: let the runner retry or fail.


def encode_image_file(source, image_id):
  """Reads and encodes one image: (jpeg, None) or (None, ImageRejected)."""
  path = source.path(image_id)
  raw = _read_file(path)
  try:
    if raw is None:
      raise images.ImageRejected(accounting.MISSING_IMAGE, path)
    return images.encode_image(raw, source.image_size, source.max_pixels), None
  except images.ImageRejected as e:
    return None, images.ImageRejected(e.reason, f'{path}: {e.detail}')


def example_bytes(record, jpeg, max_question_tokens, num_answers):
  """The serialised tf.train.Example of a labelled, tokenised record."""
  features = {
      record_spec.IMAGE_ID: record['image_id'],
      record_spec.IMAGE_ENCODED: jpeg,
      record_spec.QUESTION_ID: record['question_id'],
      record_spec.QUESTION_TEXT: record['question'],
      record_spec.QUESTION_INPUT_IDS: record['input_ids'],
      record_spec.QUESTION_ATTENTION_MASK: record['attention_mask'],
      record_spec.QUESTION_TYPE: record['question_type'],
      record_spec.ANSWER_TYPE: record['answer_type'],
      record_spec.ANSWER_LABEL: record['label'],
      record_spec.ANSWER_SCORES: record['scores'],
      record_spec.ANSWER_HUMAN: record['human_answers'],
  }
  return record_spec.make_example(features, max_question_tokens, num_answers)


def group_by_image(records):
  """[(image_id, records sorted by question_id)], by image id.

  The order makes a shard's bytes the same on every run (a retried bundle
  rewrites the same file), and puts an image's records next to each other so
  that gzip stores the repeated JPEG about once.
  """
  by_image = {}
  for record in records:
    by_image.setdefault(record['image_id'], []).append(record)
  return [(image_id, sorted(group, key=lambda r: r['question_id']))
          for image_id, group in sorted(by_image.items())]


class _EncodeAndWriteShard(beam.DoFn):
  """Writes one shard: encodes each of its images once, then its Examples."""

  def __init__(self, source, prefix, num_shards, max_question_tokens):
    self._source = source
    self._prefix = prefix
    self._num_shards = num_shards
    self._max_question_tokens = max_question_tokens
    self._images_read = Metrics.counter(METRICS_NAMESPACE, 'images_read')
    self._image_bytes = Metrics.distribution(METRICS_NAMESPACE,
                                             'encoded_image_bytes')
    self._progress = None

  def setup(self):
    self._progress = _Progress(f'{self._source.split} images encoded')

  def _image_outcomes(self, image_id, records, file, num_answers):
    """Encodes one image, writes its records; yields what happened."""
    split = self._source.split
    yield _event(split, accounting.IMAGES_REFERENCED)
    yield _event(split, accounting.IMAGES_READ)
    self._images_read.inc()
    self._progress.tick()
    jpeg, problem = encode_image_file(self._source, image_id)
    if problem:
      yield _event(split, f'{accounting.IMAGES_REJECTED}/{problem.reason}')
      for record in records:
        yield from _reject(split, record['question_id'], image_id,
                           problem.reason, problem.detail)
      return
    self._image_bytes.update(len(jpeg))
    written = accounting.outcome(split, accounting.WRITTEN)
    for record in records:
      file.write(shard_files.tfrecord_frame(example_bytes(
          record, jpeg, self._max_question_tokens, num_answers)))
      yield beam.pvalue.TaggedOutput(OUTCOMES, written)

  def process(self, keyed_records, vocabulary):
    # Imported here: FileSystems pulls in every registered file system.
    from apache_beam.io.filesystems import FileSystems  # pylint: disable=g-import-not-at-top
    index, grouped = keyed_records
    path = shard_files.shard_path(self._prefix, index, self._num_shards,
                                  record_spec.SHARD_SUFFIX)
    num_answers = len(vocabulary['answers'])
    groups = group_by_image(grouped['records'])
    with FileSystems.create(path, compression_type=CompressionTypes.GZIP) as f:
      for image_id, records in groups:
        yield from self._image_outcomes(image_id, records, f, num_answers)
    yield path, sum(len(records) for _, records in groups)


class WriteExampleShards(beam.PTransform):
  """Writes labelled, tokenised records as Examples into `num_shards` files.

  Records are grouped by the shard of their image (sinks.shard_index of the
  image id), and the step that writes a shard reads, decodes and encodes each
  of its images once. So only question metadata crosses the shuffle, never
  image bytes, and no image is decoded twice. The price: the writing step runs
  at most `num_shards` bundles at a time, so give at least as many shards as
  worker cores (on Dataflow, all workers' cores). Returns the (path, records
  written) of each shard, with tagged OUTCOMES and REJECTED.
  """

  def __init__(self, source, prefix, num_shards, max_question_tokens,
               vocabulary):
    super().__init__()
    if num_shards < 1:
      raise ValueError(f'num_shards must be >= 1, got {num_shards}')
    self._writer = _EncodeAndWriteShard(source, prefix, num_shards,
                                        max_question_tokens)
    self._num_shards = num_shards
    self._vocabulary = vocabulary

  def expand(self, records):
    n = self._num_shards
    # Every shard index appears at least once, so empty shards are written too.
    all_indices = (records.pipeline
                   | 'ListShards' >> beam.Create([(i, None) for i in range(n)]))
    by_shard = records | 'KeyByShard' >> beam.Map(
        lambda record: (shard_files.shard_index(record['image_id'], n), record))
    return (
        {'records': by_shard, 'shards': all_indices}
        | 'GroupByShard' >> beam.CoGroupByKey()
        | 'EncodeAndWrite' >> beam.ParDo(
            self._writer, vocabulary=beam.pvalue.AsSingleton(self._vocabulary)
        ).with_outputs(OUTCOMES, REJECTED, main='shards'))


def _count_outcome(outcome_key):
  Metrics.counter(METRICS_NAMESPACE,
                  accounting.counter_name(outcome_key)).inc()
  return outcome_key


class CountOutcomes(beam.PTransform):
  """Counts outcome tuples into one [((split, kind, reason), n)] list."""

  def expand(self, outcomes):
    return (
        outcomes
        | 'ToCounters' >> beam.Map(_count_outcome)
        | 'CountEach' >> beam.combiners.Count.PerElement()
        | 'ToList' >> beam.combiners.ToList())
