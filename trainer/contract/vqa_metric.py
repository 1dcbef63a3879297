"""The official VQA answer normalisation and accuracy, defined once.

The preprocessing pipeline uses it to normalise human answers, build the answer
vocabulary and compute soft targets; the evaluator uses it to score predictions.
Pure Python: no TensorFlow, no Beam.

The normalisation follows the official evaluator (vqaEval.py of the VQA API):
punctuation rules, lower case, number words to digits, articles dropped,
contractions restored. One deliberate difference: the official script only
normalises when the ten human answers are not all identical; we always
normalise, so "Two" and "2" never count as different answers. On the real
VQA v2 annotations (already lower case and normalised by their authors) the two
agree.
"""
import collections
import re

NUM_HUMAN_ANSWERS = 10
_MATCHES_FOR_FULL_CREDIT = 3

_CONTRACTIONS = {
    'aint': "ain't", 'arent': "aren't", 'cant': "can't", 'couldve': "could've",
    'couldnt': "couldn't", "couldn'tve": "couldn't've", "couldnt've": "couldn't've",
    'didnt': "didn't", 'doesnt': "doesn't", 'dont': "don't", 'hadnt': "hadn't",
    "hadnt've": "hadn't've", "hadn'tve": "hadn't've", 'hasnt': "hasn't",
    'havent': "haven't", 'hed': "he'd", "hed've": "he'd've", "he'dve": "he'd've",
    'hes': "he's", 'howd': "how'd", 'howll': "how'll", 'hows': "how's",
    "Id've": "I'd've", "I'dve": "I'd've", 'Im': "I'm", 'Ive': "I've",
    'isnt': "isn't", 'itd': "it'd", "itd've": "it'd've", "it'dve": "it'd've",
    'itll': "it'll", "let's": "let's", 'maam': "ma'am", 'mightnt': "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've", 'mightve': "might've",
    'mustnt': "mustn't", 'mustve': "must've", 'neednt': "needn't",
    'notve': "not've", 'oclock': "o'clock", 'oughtnt': "oughtn't",
    "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at",
    'shant': "shan't", "shed've": "she'd've", "she'dve": "she'd've",
    "she's": "she's", 'shouldve': "should've", 'shouldnt': "shouldn't",
    "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've",
    "somebody'd": 'somebodyd', "somebodyd've": "somebody'd've",
    "somebody'dve": "somebody'd've", 'somebodyll': "somebody'll",
    'somebodys': "somebody's", 'someoned': "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've",
    'someonell': "someone'll", 'someones': "someone's", 'somethingd': "something'd",
    "somethingd've": "something'd've", "something'dve": "something'd've",
    'somethingll': "something'll", 'thats': "that's", 'thered': "there'd",
    "thered've": "there'd've", "there'dve": "there'd've", 'therere': "there're",
    'theres': "there's", 'theyd': "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", 'theyll': "they'll", 'theyre': "they're",
    'theyve': "they've", 'twas': "'twas", 'wasnt': "wasn't", "wed've": "we'd've",
    "we'dve": "we'd've", 'weve': "we've", 'werent': "weren't", 'whatll': "what'll",
    'whatre': "what're", 'whats': "what's", 'whatve': "what've", 'whens': "when's",
    'whered': "where'd", 'wheres': "where's", 'whereve': "where've",
    'whod': "who'd", "whod've": "who'd've", "who'dve": "who'd've",
    'wholl': "who'll", 'whos': "who's", 'whove': "who've", 'whyll': "why'll",
    'whyre': "why're", 'whys': "why's", 'wont': "won't", 'wouldve': "would've",
    'wouldnt': "wouldn't", "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've",
    'yall': "y'all", "yall'll": "y'all'll", "y'allll": "y'all'll",
    "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've",
    'youd': "you'd", "youd've": "you'd've", "you'dve": "you'd've",
    'youll': "you'll", 'youre': "you're", 'youve': "you've",
}
_NUMBER_WORDS = {
    'none': '0', 'zero': '0', 'one': '1', 'two': '2', 'three': '3', 'four': '4',
    'five': '5', 'six': '6', 'seven': '7', 'eight': '8', 'nine': '9', 'ten': '10',
}
_ARTICLES = frozenset({'a', 'an', 'the'})
# The official pattern reads "(?!<=\d)": a look-ahead, not the look-behind it
# looks like. Kept as is so that our scores match the official ones.
_PERIOD_STRIP = re.compile(r'(?!<=\d)(\.)(?!\d)')
_COMMA_BETWEEN_DIGITS = re.compile(r'(\d)(,)(\d)')
_PUNCTUATION = (';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\',
                '_', '-', '>', '<', '@', '`', ',', '?', '!')


def _process_punctuation(text):
  out = text
  has_digit_comma = _COMMA_BETWEEN_DIGITS.search(text) is not None
  for mark in _PUNCTUATION:
    if mark + ' ' in text or ' ' + mark in text or has_digit_comma:
      out = out.replace(mark, '')
    else:
      out = out.replace(mark, ' ')
  return _PERIOD_STRIP.sub('', out)


def _process_digits_and_articles(text):
  words = [_NUMBER_WORDS.get(word, word) for word in text.lower().split()]
  words = [word for word in words if word not in _ARTICLES]
  return ' '.join(_CONTRACTIONS.get(word, word) for word in words)


def normalize_answer(answer):
  """Returns `answer` normalised as the official VQA evaluator does."""
  text = answer.replace('\n', ' ').replace('\t', ' ').strip()
  return _process_digits_and_articles(_process_punctuation(text))


def vqa_accuracy(predicted, human_answers):
  """Official VQA accuracy of one predicted answer against the human answers.

  Args:
    predicted: the predicted answer (normalised here).
    human_answers: the human answers, normally ten (normalised here).

  Returns:
    The mean, over each way of leaving one human answer out, of
    min(1, matches among the others / 3); 0.0 when there are no human answers.
  """
  if not human_answers:
    return 0.0
  predicted = normalize_answer(predicted)
  matches = [normalize_answer(answer) == predicted for answer in human_answers]
  total_matches = sum(matches)
  credits = [min(1.0, (total_matches - own) / _MATCHES_FOR_FULL_CREDIT)
             for own in matches]
  return sum(credits) / len(credits)


def overall_accuracy(answers, human_answers):
  """The official evaluator's overall accuracy: the mean of `vqa_accuracy`
  over every annotated question.

  Args:
    answers: {question id: predicted answer}.
    human_answers: {question id: [human answers]} of the annotations file.

  Returns:
    (accuracy, questions scored): annotated questions without an answer are
    left out (the official evaluator refuses such a results file).
  """
  scores = [vqa_accuracy(answers[question_id], human)
            for question_id, human in human_answers.items()
            if question_id in answers]
  return (sum(scores) / len(scores) if scores else 0.0), len(scores)


def soft_scores(normalized_human_answers, answer_vocabulary):
  """The VQA accuracy each vocabulary answer would get: the soft training target.

  Args:
    normalized_human_answers: the human answers, already normalised.
    answer_vocabulary: list of normalised answers, index = label.

  Returns:
    A list of floats aligned with `answer_vocabulary`.
  """
  counts = collections.Counter(normalized_human_answers)
  n = len(normalized_human_answers)
  scores = []
  for answer in answer_vocabulary:
    matches = counts.get(answer, 0)
    if n == 0 or matches == 0:
      scores.append(0.0)
      continue
    # Leaving out one of the `matches` agreeing answers leaves matches - 1.
    with_own = matches * min(1.0, (matches - 1) / _MATCHES_FOR_FULL_CREDIT)
    without_own = (n - matches) * min(1.0, matches / _MATCHES_FOR_FULL_CREDIT)
    scores.append((with_own + without_own) / n)
  return scores


def most_common_answer(normalized_human_answers):
  """The most frequent answer; ties go to the answer that sorts first."""
  counts = collections.Counter(normalized_human_answers)
  if not counts:
    return ''
  return min(counts, key=lambda answer: (-counts[answer], answer))
