"""Transform-level tests: join, vocabulary and labels, with TestPipeline."""
import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that
from apache_beam.testing.util import equal_to
import pytest

from beam_pipelines import accounting
from beam_pipelines import transforms
from beam_pipelines import write_shards

SPLIT = 'train2014'


def question(question_id, image_id=1, text='Is it red?'):
  return {'question_id': question_id, 'image_id': image_id, 'question': text}


def annotation(question_id, answers, image_id=1):
  return {'question_id': question_id, 'image_id': image_id,
          'question_type': 'is it', 'answer_type': 'yes/no',
          'multiple_choice_answer': answers[0],
          'answers': [{'answer': a, 'answer_confidence': 'yes',
                       'answer_id': i + 1} for i, a in enumerate(answers)]}


def run_join(questions, annotations, expected, labelled=True):
  """Keys questions and annotations, joins them, checks the three outputs."""
  with TestPipeline() as p:
    keyed = p | 'Questions' >> beam.Create(questions) | beam.ParDo(
        transforms._KeyQuestions(SPLIT)).with_outputs(  # pylint: disable=protected-access
            transforms.OUTCOMES, transforms.REJECTED, main='questions')
    to_join = {'questions': keyed.questions}
    outcomes = [keyed[transforms.OUTCOMES]]
    if labelled:
      keyed_annotations = (
          p | 'Annotations' >> beam.Create(annotations)
          | beam.FlatMap(transforms._key_annotation, SPLIT).with_outputs(  # pylint: disable=protected-access
              transforms.OUTCOMES, main='annotations'))
      to_join['annotations'] = keyed_annotations.annotations
      outcomes.append(keyed_annotations[transforms.OUTCOMES])
    joined = to_join | transforms.JoinAnnotations(SPLIT, labelled)
    outcomes.append(joined[transforms.OUTCOMES])
    actual = {
        'records': joined.records | 'Ids' >> beam.Map(
            lambda r: (r['question_id'], r['top_answer'])),
        'rejected': (
            (keyed[transforms.REJECTED], joined[transforms.REJECTED])
            | 'FlattenRejected' >> beam.Flatten()
            | 'Reasons' >> beam.Map(lambda r: (r['question_id'], r['reason']))),
        'outcomes': (outcomes | 'FlattenOutcomes' >> beam.Flatten()
                     | 'Kinds' >> beam.Map(lambda o: o[1:])),
    }
    for name, values in expected.items():
      assert_that(actual[name], equal_to(values), label=f'Check_{name}')


def test_join_accounts_for_every_question():
  questions = [
      question(1), question(2), question(2, text='duplicate'), question(3),
      question(4, text='  '), {'question_id': 'five', 'image_id': 1},
      question(6, image_id=9), question(7)]
  annotations = [
      annotation(1, ['Yes'] * 7 + ['no'] * 3), annotation(2, ['no'] * 10),
      annotation(6, ['yes'] * 10, image_id=1),
      {'question_id': 7, 'answers': 'broken'},
      annotation(99, ['yes'] * 10), {'no_question_id': True}]
  run_join(questions, annotations, {
      'records': [(1, 'yes'), (2, 'no')],
      'rejected': [(2, accounting.DUPLICATE_QUESTION_ID),
                   (3, accounting.MISSING_ANNOTATION),
                   (4, accounting.EMPTY_QUESTION),
                   (None, accounting.MALFORMED_QUESTION),
                   (6, accounting.IMAGE_ID_MISMATCH),
                   (7, accounting.MALFORMED_ANNOTATION)],
      'outcomes': [(accounting.READ, '')] * 8 + [
          (accounting.REJECTED, accounting.DUPLICATE_QUESTION_ID),
          (accounting.REJECTED, accounting.MISSING_ANNOTATION),
          (accounting.REJECTED, accounting.EMPTY_QUESTION),
          (accounting.REJECTED, accounting.MALFORMED_QUESTION),
          (accounting.REJECTED, accounting.IMAGE_ID_MISMATCH),
          (accounting.REJECTED, accounting.MALFORMED_ANNOTATION),
          (accounting.EVENT, accounting.ANNOTATION_WITHOUT_QUESTION),
          (accounting.EVENT, accounting.MALFORMED_ANNOTATION_RECORDS)] + [
              # 6 read = 4 joined (1, 2, 6, 7) + 1 without question (99)
              # + 1 without a question id.
              (accounting.EVENT, accounting.ANNOTATIONS_READ)] * 6 + [
              (accounting.EVENT, accounting.ANNOTATIONS_JOINED)] * 4,
  })


def test_unlabelled_split_needs_no_annotations():
  run_join([question(1), question(2)], [], {
      'records': [(1, ''), (2, '')],
      'rejected': [],
      'outcomes': [(accounting.READ, '')] * 2,
  }, labelled=False)


def test_vocabulary_is_the_top_k_with_ties_broken_by_name():
  tops = ['yes'] * 5 + ['no'] * 5 + ['2'] * 3 + ['red'] * 3 + ['blue'] + ['']
  with TestPipeline() as p:
    vocabulary = (p | beam.Create([{'top_answer': t} for t in tops])
                  | transforms.BuildVocabulary(3, "train2014"))
    assert_that(vocabulary, equal_to([
        {'answers': ['no', 'yes', '2'], 'counts': [5, 5, 3]}]))


@pytest.mark.parametrize('is_training, expected_written, expected_outcome', [
    (True, [(1, 0, [1.0, 0.3]), (3, -1, [0.0, 0.0])],
     [(accounting.FILTERED, accounting.ANSWER_NOT_IN_VOCABULARY)]),
    (False, [(1, 0, [1.0, 0.3]), (2, -1, [0.0, 0.0]), (3, -1, [0.0, 0.0])],
     [(accounting.EVENT, accounting.LABEL_OUTSIDE_VOCABULARY)]),
])
def test_labels_filter_training_questions_outside_the_vocabulary(
    is_training, expected_written, expected_outcome):
  records = [
      {'split': SPLIT, 'question_id': 1, 'top_answer': 'yes',
       'human_answers': ['yes'] * 9 + ['no']},
      {'split': SPLIT, 'question_id': 2, 'top_answer': 'maybe',
       'human_answers': ['maybe'] * 10},
      {'split': SPLIT, 'question_id': 3, 'top_answer': '',
       'human_answers': []},  # unlabelled: never filtered
  ]
  with TestPipeline() as p:
    vocabulary = p | 'Vocabulary' >> beam.Create(
        [{'answers': ['yes', 'no'], 'counts': [2, 1]}])
    labelled = (p | 'Records' >> beam.Create(records)
                | transforms.AssignLabels(vocabulary, is_training))
    assert_that(labelled.records | beam.Map(
        lambda r: (r['question_id'], r['label'],
                   [round(s, 6) for s in r['scores']])),
                equal_to(expected_written), label='CheckRecords')
    assert_that(labelled[transforms.OUTCOMES] | 'Kinds' >> beam.Map(
        lambda o: o[1:]), equal_to(expected_outcome), label='CheckOutcomes')


def test_group_by_image_orders_images_and_their_questions():
  records = [{'image_id': image_id, 'question_id': question_id}
             for image_id, question_id in ((5, 52), (3, 31), (5, 51), (3, 30))]
  grouped = write_shards.group_by_image(records)
  assert [(image_id, [r['question_id'] for r in group])
          for image_id, group in grouped] == [(3, [30, 31]), (5, [51, 52])]
