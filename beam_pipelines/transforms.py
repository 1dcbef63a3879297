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
    yield beam.pvalue.TaggedOutput(
        OUTCOMES, accounting.outcome(self._split, accounting.READ))
    problem = vqa_json.check_question(record)
    if problem:
      get = record.get if isinstance(record, dict) else (lambda key: None)
      yield from outcome_tags.reject(
          self._split, _int_or_none(get('question_id')),
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
      yield outcome_tags.event(split, accounting.MALFORMED_ANNOTATION_RECORDS)
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
    yield outcome_tags.event(split, accounting.ANNOTATION_WITHOUT_QUESTION)
    return
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
    yield outcome_tags.event(split, accounting.LABEL_OUTSIDE_VOCABULARY)
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
      yield outcome_tags.event(record['split'], accounting.TRUNCATED_QUESTIONS)
    tokenized = dict(record)
    tokenized['input_ids'] = ids
    tokenized['attention_mask'] = mask
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
