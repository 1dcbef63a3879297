"""The official VQA normalisation and accuracy on hand-computed examples."""
import pytest

from trainer.contract import vqa_metric


@pytest.mark.parametrize('raw, expected', [
    ('Two', '2'),
    ('yes.', 'yes'),
    ('  Yes  ', 'yes'),
    ('the red one', 'red 1'),
    ('A dog', 'dog'),
    ('none', '0'),
    ('dont', "don't"),
    ('black/white', 'black white'),
    ('black / white', 'black white'),
    ('1,000', '1000'),
    ('3.5', '3.5'),
    ('hot-dog', 'hot dog'),
    ('what?!', 'what'),
    ('line\nbreak', 'line break'),
])
def test_normalize_answer_follows_the_official_rules(raw, expected):
  assert vqa_metric.normalize_answer(raw) == expected


def test_accuracy_with_annotator_disagreement_is_the_leave_one_out_mean():
  humans = ['2'] * 2 + ['two'] + ['3'] * 7  # three say 2, in two spellings
  # Leaving out one of the three "2": 2 matches -> 2/3; leaving out another
  # answer: 3 matches -> 1. Mean = (3 * 2/3 + 7 * 1) / 10 = 0.9.
  assert vqa_metric.vqa_accuracy('Two', humans) == pytest.approx(0.9)
  # "3": leaving out a "3" leaves 6 -> 1; leaving out a "2" leaves 7 -> 1.
  assert vqa_metric.vqa_accuracy('3', humans) == pytest.approx(1.0)
  assert vqa_metric.vqa_accuracy('4', humans) == 0.0


def test_accuracy_of_a_single_match_is_three_tenths():
  humans = ['yes.'] + ['no'] * 9
  # One match: leaving it out -> 0; leaving out any of 9 others -> 1/3.
  assert vqa_metric.vqa_accuracy('Yes', humans) == pytest.approx(9 / 30)


def test_accuracy_without_human_answers_is_zero():
  assert vqa_metric.vqa_accuracy('yes', []) == 0.0


def test_soft_scores_equal_the_accuracy_of_answering_each_answer():
  raw = ['2', '2', 'two', 'Three', '3', '3', '3', 'red', 'a red', 'blue']
  humans = [vqa_metric.normalize_answer(a) for a in raw]
  vocabulary = ['2', '3', 'red', 'blue', 'yes']
  scores = vqa_metric.soft_scores(humans, vocabulary)
  expected = [vqa_metric.vqa_accuracy(answer, raw) for answer in vocabulary]
  assert scores == pytest.approx(expected)
  assert scores[-1] == 0.0
  assert scores[0] == pytest.approx(0.9)


def test_most_common_answer_breaks_ties_by_name():
  assert vqa_metric.most_common_answer(['no', 'yes', 'yes', 'no']) == 'no'
  assert vqa_metric.most_common_answer(['2', '3', '3']) == '3'
  assert vqa_metric.most_common_answer([]) == ''


def test_overall_accuracy_averages_over_the_annotated_questions_answered():
  human = {1: ['yes'] * 10, 2: ['2'] * 3 + ['3'] * 7, 3: ['red'] * 10}
  answers = {1: 'Yes', 2: 'two', 9: 'ignored'}
  accuracy, scored = vqa_metric.overall_accuracy(answers, human)
  assert scored == 2
  assert accuracy == pytest.approx((1.0 + 0.9) / 2)
  assert vqa_metric.overall_accuracy({}, human) == (0.0, 0)
