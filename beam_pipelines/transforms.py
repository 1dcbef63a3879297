"""The composite transforms of the preprocessing pipeline, in pipeline order:
read, join, build the vocabulary, label, tokenise (write_shards.py writes).

Each step puts what happened to every question on its OUTCOMES output and
rejected questions on REJECTED (outcome_tags.py).
"""
import json

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_pipelines import accounting
from beam_pipelines import layout
from beam_pipelines import outcome_tags
from beam_pipelines import tokenization
from beam_pipelines import vqa_json
from trainer.contract import record_spec
from trainer.contract import vqa_metric
# The tags of the steps' outputs (preprocess.py reads them from here too).
from beam_pipelines.outcome_tags import METRICS_NAMESPACE
from beam_pipelines.outcome_tags import OUTCOMES
from beam_pipelines.outcome_tags import REJECTED


def _int_or_none(value):
  return value if isinstance(value, int) and not isinstance(value, bool) else None


class _KeyQuestions(beam.DoFn):
  """Checks each question record and keys the usable ones by question_id."""

  def __init__(self, split):
    self._split = split

  def process(self, record):
    yield outcome_tags.outcome(self._split, accounting.READ)
    problem = vqa_json.check_question(record)
    if problem:
      get = record.get if isinstance(record, dict) else (lambda key: None)
      yield from outcome_tags.reject(
          self._split, _int_or_none(get('question_id')),
          _int_or_none(get('image_id')), problem)
      return
    outcome_tags.sent(self._split, accounting.QUESTIONS_EDGE)
    yield record['question_id'], record


def _stream_file(path, key, split, edge):
  """The records of the JSON file at `path`, its arrival counted: a lost
  path would otherwise read as an empty file."""
  outcome_tags.received(split, edge)
  yield from vqa_json.iter_records(path, key)


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
        | 'StreamRecords' >> beam.FlatMap(_stream_file, layout.QUESTIONS_KEY,
                                          self._split,
                                          accounting.QUESTIONS_FILE_EDGE)
        | 'CheckAndKey' >> beam.ParDo(_KeyQuestions(self._split)).with_outputs(
            OUTCOMES, REJECTED, main='questions'))


def _key_annotation(record, split):
  yield outcome_tags.event(split, accounting.ANNOTATIONS_READ)
  if not vqa_json.check_annotation(record):
    question_id = (_int_or_none(record.get('question_id'))
                   if isinstance(record, dict) else None)
    if question_id is None:
      yield outcome_tags.event(split, accounting.MALFORMED_ANNOTATION_RECORDS)
      return
    outcome_tags.sent(split, accounting.ANNOTATIONS_EDGE)
    yield question_id, None  # Known question, unusable annotation.
    return
  outcome_tags.sent(split, accounting.ANNOTATIONS_EDGE)
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
        | 'StreamRecords' >> beam.FlatMap(_stream_file,
                                          layout.ANNOTATIONS_KEY, self._split,
                                          accounting.ANNOTATIONS_FILE_EDGE)
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
  outcome_tags.received(split, accounting.QUESTIONS_EDGE, len(questions))
  outcome_tags.received(split, accounting.ANNOTATIONS_EDGE, len(annotations))
  # Every annotation read is joined or has no question (accounting checks).
  annotations_fate = (accounting.ANNOTATIONS_JOINED if questions else
                      accounting.ANNOTATION_WITHOUT_QUESTION)
  for _ in annotations:
    yield outcome_tags.event(split, annotations_fate)
  if not questions:
    return
  for record in _resolve_question(question_id, questions, annotations, split,
                                  labelled):
    if isinstance(record, dict):
      outcome_tags.sent(split, accounting.JOINED_EDGE)
    yield record


def _resolve_question(question_id, questions, annotations, split, labelled):
  question, duplicates = questions[0], questions[1:]
  for duplicate in duplicates:
    yield from outcome_tags.reject(split, question_id, duplicate['image_id'],
                                   accounting.DUPLICATE_QUESTION_ID)
  if not labelled:
    yield _unlabelled_record(split, question)
    return
  usable = sorted((a for a in annotations if a is not None), key=_canonical)
  if not annotations:
    yield from outcome_tags.reject(split, question_id, question['image_id'],
                                   accounting.MISSING_ANNOTATION)
    return
  if not usable:
    yield from outcome_tags.reject(split, question_id, question['image_id'],
                                   accounting.MALFORMED_ANNOTATION)
    return
  if len(annotations) > 1:
    yield outcome_tags.event(split, accounting.DUPLICATE_ANNOTATIONS)
  annotation = usable[0]
  if annotation.get('image_id', question['image_id']) != question['image_id']:
    yield from outcome_tags.reject(
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


def vocabulary_from_top(top):
  """{'answers': [...], 'counts': [...]} from [(answer, count)], best first."""
  return {'answers': [answer for answer, _ in top],
          'counts': [count for _, count in top]}


def _top_answer(record, split):
  outcome_tags.received(split, accounting.VOCABULARY_RECORDS_EDGE)
  if record['top_answer']:
    outcome_tags.sent(split, accounting.TOP_ANSWERS_EDGE)
    yield record['top_answer']


def _counted_answer(answer_count, split):
  outcome_tags.received(split, accounting.TOP_ANSWERS_EDGE, answer_count[1])
  outcome_tags.sent(split, accounting.ANSWER_COUNTS_EDGE)
  return answer_count


def top_k(answer_counts, k, split):
  """The k most common (answer, count), ties broken by name."""
  outcome_tags.received(split, accounting.ANSWER_COUNTS_EDGE,
                        len(answer_counts))
  return sorted(answer_counts, key=lambda pair: (-pair[1], pair[0]))[:k]


class BuildVocabulary(beam.PTransform):
  """The top-K most common answers of the training split's records.

  All distinct answers meet in one list (tens of thousands at VQA v2's full
  size), so that the step can count what it received.
  """

  def __init__(self, top_answers, split):
    super().__init__()
    self._top_answers = top_answers
    self._split = split

  def expand(self, records):
    return (
        records
        | 'TopAnswer' >> beam.FlatMap(_top_answer, self._split)
        | 'CountAnswers' >> beam.combiners.Count.PerElement()
        | 'CountedAnswers' >> beam.Map(_counted_answer, self._split)
        | 'AllCounts' >> beam.combiners.ToList()
        | 'TopK' >> beam.Map(top_k, self._top_answers, self._split)
        | 'ToVocabulary' >> beam.Map(vocabulary_from_top))


def answer_index(vocabulary):
  return {answer: i for i, answer in enumerate(vocabulary['answers'])}


def assign_label(record, vocabulary, index, is_training):
  """Adds `label` and soft `scores`; filters training questions outside it."""
  answers = vocabulary['answers']
  split = record['split']
  outcome_tags.received(split, accounting.JOINED_EDGE)
  labelled = dict(record)
  labelled['label'] = index.get(record['top_answer'], record_spec.UNLABELLED)
  labelled['scores'] = vqa_metric.soft_scores(record['human_answers'], answers)
  if record['human_answers'] and labelled['label'] == record_spec.UNLABELLED:
    if is_training:
      yield outcome_tags.outcome(split, accounting.FILTERED,
                                 accounting.ANSWER_NOT_IN_VOCABULARY)
      return
    yield outcome_tags.event(split, accounting.LABEL_OUTSIDE_VOCABULARY)
  outcome_tags.sent(split, accounting.LABELLED_EDGE)
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
    outcome_tags.received(record['split'], accounting.LABELLED_EDGE)
    ids, mask, truncated = self._tokenizer.encode(record['question'])
    if truncated:
      self._truncated.inc()
      yield outcome_tags.event(record['split'], accounting.TRUNCATED_QUESTIONS)
    tokenized = dict(record)
    tokenized['input_ids'] = ids
    tokenized['attention_mask'] = mask
    outcome_tags.sent(record['split'], accounting.TOKENIZED_EDGE)
    yield tokenized


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
