"""What every sample-data family shares: balanced questions, noisy annotators
and the official VQA v2 files.

A family (beam_pipelines.sample_shapes, beam_pipelines.sample_photos) supplies
scenes, a renderer and question templates; this module chooses balanced
questions, writes ten human answers per question with the same annotator
noise for every family, and lays the files out like the official download.
"""
import collections
import dataclasses
import json
import pathlib
import random
from typing import Any, Callable, Optional

from PIL import Image

from beam_pipelines import layout
from trainer.contract import record_spec

YES_NO = ('yes', 'no')
COUNTS = ('1', '2', '3', '4')
NUM_HUMAN_ANSWERS = 10
MIN_IMAGE_SIZE = 32
IMAGE_ID_STRIDE = 1_000_000
QUESTION_ID_STRIDE = 1000

LICENSE = {
    'url': 'http://creativecommons.org/licenses/by/4.0/',
    'name': 'Creative Commons Attribution 4.0 International License',
}

_JPEG_QUALITY = 90
_BALANCE_SLACK = 1
_MIX_SLACK = 6
_NUM_WRONG_WEIGHTS = {0: 0.55, 1: 0.25, 2: 0.13, 3: 0.07}
_MIN_EXACT_ANSWERS = 3
_EXACT_ANSWER_PROB = 0.8
_CONFIDENCES = ('yes', 'maybe', 'no')
_RIGHT_CONFIDENCE_WEIGHTS = (0.8, 0.15, 0.05)
_WRONG_CONFIDENCE_WEIGHTS = (0.4, 0.45, 0.15)
_NUMBER_WORDS = ('one', 'two', 'three', 'four', 'five', 'six', 'seven',
                 'eight', 'nine', 'ten')


@dataclasses.dataclass(frozen=True)
class Question:
  text: str
  answer: str
  question_type: str
  answer_type: str


@dataclasses.dataclass(frozen=True)
class Template:
  """A question family.

  Attributes:
    share: the largest fraction of all questions it may take.
    candidates: returns every question of the family that fits a scene.
    answers: the answer space balanced per question text; None: unbalanced.
    max_share: an answer may also exceed its fair share up to this fraction.
  """
  share: float
  candidates: Callable[[Any], list[Question]]
  answers: Optional[tuple[str, ...]] = None
  max_share: float = 0.0


@dataclasses.dataclass(frozen=True)
class Family:
  """One kind of sample data.

  Attributes:
    description: the `info.description` of its JSON files.
    templates: the question families asked about its scenes.
    sample_scene: (rng, image_size) -> a scene the templates understand.
    draw_scene: (scene, image_size) -> the RGB image showing it.
    other_answers: the answers of its 'other' questions, from which a
      mistaken annotator picks.
  """
  description: str
  templates: tuple[Template, ...]
  sample_scene: Callable[[random.Random, int], Any]
  draw_scene: Callable[[Any, int], Image.Image]
  other_answers: tuple[str, ...]


def yes_no(flag):
  return 'yes' if flag else 'no'


# Questions.


class _AnswerBalancer:
  """Keeps the answers to each question text near-uniform over its space."""

  def __init__(self, slack):
    self._slack = slack
    self._counts = collections.defaultdict(collections.Counter)

  def choose(self, template, candidates, rng):
    """Returns the candidate whose answer its text lacks most, or None."""
    if template.answers is None:
      return rng.choice(candidates) if candidates else None
    scored = [(self._excess(question, template.answers), question)
              for question in candidates
              if question.answer in template.answers]
    if not scored:
      return None
    best = min(excess for excess, _ in scored)
    allowed = [question for excess, question in scored if excess == best]
    if best > self._slack:
      allowed = [question for question in allowed
                 if self._within_share(question, template)]
    return rng.choice(allowed) if allowed else None

  def record(self, question):
    self._counts[question.text][question.answer] += 1

  def _excess(self, question, answers):
    counts = self._counts[question.text]
    return counts[question.answer] - min(counts[answer] for answer in answers)

  def _within_share(self, question, template):
    counts = self._counts[question.text]
    total = sum(counts.values()) + 1
    return counts[question.answer] + 1 <= template.max_share * total


class _TemplateMix:
  """Keeps each template within its share, offering the least filled first."""

  def __init__(self, templates, slack):
    self._templates = templates
    self._slack = slack
    self._used = collections.Counter()
    self._total = 0

  def ordered(self, rng):
    """Returns the templates still within their share, least filled first."""
    limit = self._total + 1
    templates = [template for template in self._templates
                 if self._used[template] < template.share * limit + self._slack]
    rng.shuffle(templates)
    templates.sort(key=lambda template: self._used[template] / template.share)
    return templates

  def record(self, template):
    self._used[template] += 1
    self._total += 1


def _next_question(scene, rng, balancer, mix, asked):
  for template in mix.ordered(rng):
    candidates = [question for question in template.candidates(scene)
                  if question.text not in asked]
    question = balancer.choose(template, candidates, rng)
    if question is not None:
      balancer.record(question)
      mix.record(template)
      return question
  return None


def _choose_questions(scene, rng, balancer, mix, count):
  """Returns up to `count` distinct, balanced questions about the scene."""
  chosen, asked = [], set()
  while len(chosen) < count:
    question = _next_question(scene, rng, balancer, mix, asked)
    if question is None:
      break
    asked.add(question.text)
    chosen.append(question)
  return chosen


# Human answers.


def _wrong_answer(question, other_answers, rng):
  """Returns a plausible mistake: the opposite, a neighbour count, another
  answer of the same kind."""
  if question.answer_type == 'yes/no':
    return 'no' if question.answer == 'yes' else 'yes'
  if question.answer_type == 'number':
    count = int(question.answer)
    return str(rng.choice([n for n in (count - 1, count + 1) if n >= 1]))
  return rng.choice([answer for answer in other_answers
                     if answer != question.answer])


def _variants(answer):
  """Spellings that the official VQA normalisation maps back to `answer`."""
  if answer.isdigit():
    number = int(answer)
    if 1 <= number <= len(_NUMBER_WORDS):
      word = _NUMBER_WORDS[number - 1]
      return (f'{answer} ', word, word.capitalize())
    return (f'{answer} ',)
  return (answer.capitalize(), f'{answer}.', f'{answer.capitalize()}.')


def _surface_form(answer, exact, rng):
  if exact or rng.random() < _EXACT_ANSWER_PROB:
    return answer
  return rng.choice(_variants(answer))


def _human_answers(question, other_answers, rng):
  """Returns ten shuffled human answers and their majority canonical answer."""
  num_wrong = rng.choices(tuple(_NUM_WRONG_WEIGHTS),
                          weights=tuple(_NUM_WRONG_WEIGHTS.values()))[0]
  canonical = ([question.answer] * (NUM_HUMAN_ANSWERS - num_wrong) +
               [_wrong_answer(question, other_answers, rng)
                for _ in range(num_wrong)])
  rows = []
  for index, answer in enumerate(canonical):
    right = answer == question.answer
    confidence = rng.choices(_CONFIDENCES, weights=(
        _RIGHT_CONFIDENCE_WEIGHTS if right else _WRONG_CONFIDENCE_WEIGHTS))[0]
    raw = _surface_form(answer, index < _MIN_EXACT_ANSWERS, rng)
    rows.append((raw, confidence))
  rng.shuffle(rows)
  answers = [{'answer': raw, 'answer_confidence': confidence,
              'answer_id': answer_id}
             for answer_id, (raw, confidence) in enumerate(rows, start=1)]
  majority = collections.Counter(canonical).most_common(1)[0][0]
  return answers, majority


# Files.


def _info(description):
  return {
      'description': description,
      'url': 'http://visualqa.org',
      'version': '2.0',
      'year': 2017,
      'contributor': 'beam_pipelines.sample_data',
      'date_created': '2017-04-26 17:07:13',
  }


def _question_record(image_id, question_id, question):
  return {'image_id': image_id, 'question': question.text,
          'question_id': question_id}


def _annotation_record(image_id, question_id, question, other_answers, rng):
  answers, majority = _human_answers(question, other_answers, rng)
  return {
      'question_id': question_id,
      'image_id': image_id,
      'question_type': question.question_type,
      'answer_type': question.answer_type,
      'multiple_choice_answer': majority,
      'answers': answers,
  }


def _questions_file(split, questions, description):
  return {
      'info': _info(description),
      'task_type': 'Open-Ended',
      'data_type': 'mscoco',
      'license': LICENSE,
      'data_subtype': split,
      layout.QUESTIONS_KEY: questions,
  }


def _annotations_file(split, annotations, description):
  return {
      'info': _info(description),
      'license': LICENSE,
      'data_type': 'mscoco',
      'data_subtype': split,
      layout.ANNOTATIONS_KEY: annotations,
  }


def _write_json(path, payload):
  pathlib.Path(path).write_text(json.dumps(payload), encoding='utf-8')


def _image_id(split_index, index):
  return split_index * IMAGE_ID_STRIDE + index + 1


def generate_split(out_dir: str, split: str, split_index: int, config,
                   family: Family) -> dict:
  """Writes one split's images and JSON files; returns its counts.

  Args:
    out_dir: local directory that holds the data set.
    split: split name, e.g. 'train2014'.
    split_index: its position among the splits, which keeps image ids apart.
    config: a sample_data.SampleDataConfig.
    family: what the scenes show and what is asked about them.

  Returns:
    {'images': n, 'questions': n}.
  """
  # Seeded by split name, so a split's content does not depend on the others.
  rng = random.Random(f'{config.seed}/{split}')
  balancer = _AnswerBalancer(_BALANCE_SLACK)
  mix = _TemplateMix(family.templates, _MIX_SLACK)
  image_dir = pathlib.Path(layout.image_dir(out_dir, split))
  image_dir.mkdir(parents=True, exist_ok=True)
  questions, annotations = [], []
  for index in range(config.images_per_split):
    image_id = _image_id(split_index, index)
    scene = family.sample_scene(rng, config.image_size)
    image = family.draw_scene(scene, config.image_size)
    image.save(image_dir / layout.image_filename(split, image_id),
               format='JPEG', quality=_JPEG_QUALITY)
    chosen = _choose_questions(scene, rng, balancer, mix,
                               config.questions_per_image)
    for k, question in enumerate(chosen):
      question_id = image_id * QUESTION_ID_STRIDE + k
      questions.append(_question_record(image_id, question_id, question))
      annotations.append(_annotation_record(
          image_id, question_id, question, family.other_answers, rng))
  _write_json(layout.questions_path(out_dir, split),
              _questions_file(split, questions, family.description))
  # Like the official test2015 download: questions and images only.
  if record_spec.is_labelled_split(split):
    _write_json(layout.annotations_path(out_dir, split),
                _annotations_file(split, annotations, family.description))
  return {'images': config.images_per_split, 'questions': len(questions)}
