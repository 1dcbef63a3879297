"""Writes a small synthetic CLEVR-like data set in the official VQA v2 layout.

The question and annotation JSON files and the COCO-style image names match the
official download, so the preprocessing pipeline runs on them unchanged:

  python -m beam_pipelines.sample_data /tmp/vqa_sample --images-per-split 200

Each image shows 1-4 large circles, squares or triangles in red, blue, green or
yellow. Every question text gets a balanced answer distribution (yes/no about
even, colours and counts about uniform), so answering needs both the image and
the question. Output is byte-identical for the same config.
"""
import argparse
import collections
import dataclasses
import json
import math
import pathlib
import random
import re
import sys
from typing import Callable, Optional, Sequence

from PIL import Image
from PIL import ImageDraw

from beam_pipelines import layout
from trainer import contract

SHAPES = ('circle', 'square', 'triangle')
COLORS = {
    'red': (220, 40, 40),
    'blue': (40, 90, 220),
    'green': (30, 160, 60),
    'yellow': (240, 200, 20),
}
BACKGROUND = (235, 235, 230)
YES_NO = ('yes', 'no')
COUNTS = ('1', '2', '3', '4')
MAX_OBJECTS = 4
NUM_HUMAN_ANSWERS = 10
MIN_IMAGE_SIZE = 32

INFO = {
    'description': 'Synthetic CLEVR-like sample data in the VQA v2 layout.',
    'url': 'http://visualqa.org',
    'version': '2.0',
    'year': 2017,
    'contributor': 'beam_pipelines.sample_data',
    'date_created': '2017-04-26 17:07:13',
}
LICENSE = {
    'url': 'http://creativecommons.org/licenses/by/4.0/',
    'name': 'Creative Commons Attribution 4.0 International License',
}

_IMAGE_ID_STRIDE = 1_000_000
_QUESTION_ID_STRIDE = 1000
_JPEG_QUALITY = 90
_SIZE_FRACTION = (0.18, 0.30)
_GAP_FRACTION = 0.03
_ALL_SAME_SHAPE_PROB = 0.25
_ALL_SAME_COLOR_PROB = 0.25
_PLACEMENT_TRIES = 50
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
_SPLIT_NAME = re.compile(r'^[A-Za-z0-9_-]+$')


@dataclasses.dataclass(frozen=True)
class SampleDataConfig:
  """What to generate; invalid values raise ValueError.

  Attributes:
    images_per_split: images in each split.
    image_size: side of the square images in pixels.
    questions_per_image: questions asked per image; a few images get fewer
      when balancing leaves no suitable question.
    splits: split names, e.g. 'train2014'; image ids never repeat across them.
      test* splits (e.g. 'test2015') get no annotations file, as in the
      official download.
    seed: same seed and config give byte-identical files.
  """
  images_per_split: int = 200
  image_size: int = 96
  questions_per_image: int = 5
  splits: tuple[str, ...] = ('train2014', 'val2014')
  seed: int = 0

  def __post_init__(self):
    _check_int('images_per_split', self.images_per_split, 1,
               _IMAGE_ID_STRIDE - 1)
    _check_int('image_size', self.image_size, MIN_IMAGE_SIZE)
    _check_int('questions_per_image', self.questions_per_image, 1,
               _QUESTION_ID_STRIDE - 1)
    _check_int('seed', self.seed)
    _check_splits(self.splits)


def _check_int(name, value, low=None, high=None):
  if isinstance(value, bool) or not isinstance(value, int):
    raise ValueError(f'{name} must be an integer, got {value!r}')
  if low is not None and value < low:
    raise ValueError(f'{name} must be >= {low}, got {value}')
  if high is not None and value > high:
    raise ValueError(f'{name} must be <= {high}, got {value}')


def _check_splits(splits):
  if not isinstance(splits, tuple) or not splits:
    raise ValueError(
        f'splits must be a non-empty tuple of names, got {splits!r}')
  for split in splits:
    if not isinstance(split, str) or not _SPLIT_NAME.match(split):
      raise ValueError(
          f'split names may use only letters, digits, "_" and "-": {split!r}')
  if len(set(splits)) != len(splits):
    raise ValueError(f'splits must not repeat: {splits!r}')


@dataclasses.dataclass(frozen=True)
class _Shape:
  kind: str
  color: str
  x: int
  y: int
  size: int


@dataclasses.dataclass(frozen=True)
class _Question:
  text: str
  answer: str
  question_type: str
  answer_type: str


@dataclasses.dataclass(frozen=True)
class _Template:
  """A question family.

  Attributes:
    share: the largest fraction of all questions it may take.
    candidates: returns every question of the family that fits a scene.
    answers: the answer space balanced per question text; None: unbalanced.
    max_share: an answer may also exceed its fair share up to this fraction.
  """
  share: float
  candidates: Callable[[Sequence[_Shape]], list[_Question]]
  answers: Optional[tuple[str, ...]] = None
  max_share: float = 0.0


# Scenes.


def _sample_scene(rng, image_size):
  """Returns 1-4 non-overlapping shapes with uniform count and colours."""
  count = rng.randint(1, MAX_OBJECTS)
  kinds = _sample_values(rng, SHAPES, count, _ALL_SAME_SHAPE_PROB)
  colors = _sample_values(rng, tuple(COLORS), count, _ALL_SAME_COLOR_PROB)
  sizes = [round(rng.uniform(*_SIZE_FRACTION) * image_size)
           for _ in range(count)]
  centers = _place(rng, sizes, image_size)
  return tuple(_Shape(kind, color, x, y, size) for kind, color, size, (x, y)
               in zip(kinds, colors, sizes, centers))


def _sample_values(rng, values, count, same_prob):
  # Scenes where every shape shares one value make answers 3 and 4 to "How
  # many circles?" common enough to balance that question over 1-4.
  if rng.random() < same_prob:
    return [rng.choice(values)] * count
  return [rng.choice(values) for _ in range(count)]


def _place(rng, sizes, image_size):
  """Returns one centre per size so that no two shapes touch."""
  for _ in range(_PLACEMENT_TRIES):
    centers = _try_place(rng, sizes, image_size)
    if centers is not None:
      return centers
  return _grid_place(rng, sizes, image_size)


def _try_place(rng, sizes, image_size):
  gap = _GAP_FRACTION * image_size
  centers = []
  for size in sizes:
    for _ in range(_PLACEMENT_TRIES):
      center = _random_center(rng, size, image_size)
      if all(_apart(center, size, other, other_size, gap)
             for other, other_size in zip(centers, sizes)):
        centers.append(center)
        break
    else:
      return None
  return centers


def _grid_place(rng, sizes, image_size):
  """Puts each shape in its own quadrant, which always fits."""
  half = image_size // 2
  cells = [(0, 0), (half, 0), (0, half), (half, half)]
  rng.shuffle(cells)
  return [_random_center(rng, size, half, offset=cell)
          for size, cell in zip(sizes, cells)]


def _random_center(rng, size, extent, offset=(0, 0)):
  """Returns a centre keeping the shape inside [offset, offset + extent)."""
  low = (size + 1) // 2 + 1
  high = max(low, extent - (size + 1) // 2 - 1)
  return (offset[0] + rng.randint(low, high),
          offset[1] + rng.randint(low, high))


def _apart(center, size, other, other_size, gap):
  # Circumscribed circles of the bounding squares: shapes of any kind stay
  # separate, so the objects can be counted in the pixels.
  radius = (size + other_size) / math.sqrt(2)
  return math.dist(center, other) >= radius + gap


def _draw_scene(scene, image_size):
  image = Image.new('RGB', (image_size, image_size), BACKGROUND)
  draw = ImageDraw.Draw(image)
  for shape in scene:
    _draw_shape(draw, shape)
  return image


def _draw_shape(draw, shape):
  half = shape.size // 2
  x0, y0 = shape.x - half, shape.y - half
  x1, y1 = x0 + shape.size, y0 + shape.size
  fill = COLORS[shape.color]
  if shape.kind == 'circle':
    draw.ellipse((x0, y0, x1, y1), fill=fill)
  elif shape.kind == 'square':
    draw.rectangle((x0, y0, x1, y1), fill=fill)
  else:
    draw.polygon(((shape.x, y0), (x1, y1), (x0, y1)), fill=fill)


# Questions.


def _yes_no(flag):
  return 'yes' if flag else 'no'


def _count_all_candidates(scene):
  return [_Question('How many shapes are there?', str(len(scene)),
                    'how many', 'number')]


def _count_shape_candidates(scene):
  counts = collections.Counter(shape.kind for shape in scene)
  return [_Question(f'How many {kind}s are there?', str(counts[kind]),
                    'how many', 'number')
          for kind in SHAPES if counts[kind]]


def _count_color_candidates(scene):
  counts = collections.Counter(shape.color for shape in scene)
  return [_Question(f'How many {color} shapes are there?', str(counts[color]),
                    'how many', 'number')
          for color in COLORS if counts[color]]


def _count_color_shape_candidates(scene):
  counts = collections.Counter((shape.color, shape.kind) for shape in scene)
  return [_Question(f'How many {color} {kind}s are there?',
                    str(counts[(color, kind)]), 'how many', 'number')
          for kind in SHAPES for color in COLORS]


def _exists_candidates(scene):
  present = {(shape.color, shape.kind) for shape in scene}
  return [_Question(f'Is there a {color} {kind}?',
                    _yes_no((color, kind) in present), 'is there a', 'yes/no')
          for kind in SHAPES for color in COLORS]


def _unique_shapes(scene):
  counts = collections.Counter(shape.kind for shape in scene)
  return [shape for shape in scene if counts[shape.kind] == 1]


def _color_candidates(scene):
  return [_Question(f'What color is the {shape.kind}?', shape.color,
                    'what color is the', 'other')
          for shape in _unique_shapes(scene)]


def _attribute_candidates(scene):
  return [_Question(f'Is the {shape.kind} {color}?',
                    _yes_no(color == shape.color), 'is the', 'yes/no')
          for shape in _unique_shapes(scene) for color in COLORS]


# Shares are caps: yes/no families fill what the scarcer families leave, up to
# about half of all questions. Scarce families may let an answer drift up to
# max_share rather than wait for a rare one (four shapes of one kind), which
# would leave images short of questions. "How many red circles?" stays
# unbalanced on purpose: it mostly answers "0", a realistic few percent of
# answers outside the top-10 vocabulary.
_TEMPLATES = (
    _Template(0.2, _count_all_candidates, COUNTS, max_share=0.3),
    _Template(0.2, _count_shape_candidates, COUNTS, max_share=0.32),
    _Template(0.2, _count_color_candidates, COUNTS, max_share=0.32),
    _Template(0.035, _count_color_shape_candidates),
    _Template(0.28, _exists_candidates, YES_NO),
    _Template(0.2, _color_candidates, tuple(COLORS), max_share=0.3),
    _Template(0.27, _attribute_candidates, YES_NO),
)


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


def _wrong_answer(question, rng):
  """Returns a plausible mistake: the opposite, a neighbour count, a colour."""
  if question.answer_type == 'yes/no':
    return 'no' if question.answer == 'yes' else 'yes'
  if question.answer_type == 'number':
    count = int(question.answer)
    return str(rng.choice([n for n in (count - 1, count + 1) if n >= 1]))
  return rng.choice([color for color in COLORS if color != question.answer])


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


def _human_answers(question, rng):
  """Returns ten shuffled human answers and their majority canonical answer."""
  num_wrong = rng.choices(tuple(_NUM_WRONG_WEIGHTS),
                          weights=tuple(_NUM_WRONG_WEIGHTS.values()))[0]
  canonical = ([question.answer] * (NUM_HUMAN_ANSWERS - num_wrong) +
               [_wrong_answer(question, rng) for _ in range(num_wrong)])
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


def _question_record(image_id, question_id, question):
  return {'image_id': image_id, 'question': question.text,
          'question_id': question_id}


def _annotation_record(image_id, question_id, question, rng):
  answers, majority = _human_answers(question, rng)
  return {
      'question_id': question_id,
      'image_id': image_id,
      'question_type': question.question_type,
      'answer_type': question.answer_type,
      'multiple_choice_answer': majority,
      'answers': answers,
  }


def _questions_file(split, questions):
  return {
      'info': INFO,
      'task_type': 'Open-Ended',
      'data_type': 'mscoco',
      'license': LICENSE,
      'data_subtype': split,
      layout.QUESTIONS_KEY: questions,
  }


def _annotations_file(split, annotations):
  return {
      'info': INFO,
      'license': LICENSE,
      'data_type': 'mscoco',
      'data_subtype': split,
      layout.ANNOTATIONS_KEY: annotations,
  }


def _write_json(path, payload):
  pathlib.Path(path).write_text(json.dumps(payload), encoding='utf-8')


def _image_id(split_index, index):
  return split_index * _IMAGE_ID_STRIDE + index + 1


def _generate_split(out_dir, split, split_index, config):
  """Writes one split's images and JSON files; returns its counts."""
  # Seeded by split name, so a split's content does not depend on the others.
  rng = random.Random(f'{config.seed}/{split}')
  balancer = _AnswerBalancer(_BALANCE_SLACK)
  mix = _TemplateMix(_TEMPLATES, _MIX_SLACK)
  image_dir = pathlib.Path(layout.image_dir(out_dir, split))
  image_dir.mkdir(parents=True, exist_ok=True)
  questions, annotations = [], []
  for index in range(config.images_per_split):
    image_id = _image_id(split_index, index)
    scene = _sample_scene(rng, config.image_size)
    image = _draw_scene(scene, config.image_size)
    image.save(image_dir / layout.image_filename(split, image_id),
               format='JPEG', quality=_JPEG_QUALITY)
    chosen = _choose_questions(scene, rng, balancer, mix,
                               config.questions_per_image)
    for k, question in enumerate(chosen):
      question_id = image_id * _QUESTION_ID_STRIDE + k
      questions.append(_question_record(image_id, question_id, question))
      annotations.append(
          _annotation_record(image_id, question_id, question, rng))
  _write_json(layout.questions_path(out_dir, split),
              _questions_file(split, questions))
  # Like the official test2015 download: questions and images only.
  if contract.is_labelled_split(split):
    _write_json(layout.annotations_path(out_dir, split),
                _annotations_file(split, annotations))
  return {'images': config.images_per_split, 'questions': len(questions)}


def generate(out_dir: str, config: SampleDataConfig) -> dict:
  """Writes the data set under `out_dir`.

  Args:
    out_dir: local directory; created if missing, files in it are overwritten.
    config: what to generate.

  Returns:
    {split: {'images': n, 'questions': n}} for each split.
  """
  pathlib.Path(out_dir).mkdir(parents=True, exist_ok=True)
  return {split: _generate_split(out_dir, split, split_index, config)
          for split_index, split in enumerate(config.splits)}


def _split_list(text):
  return tuple(part.strip() for part in text.split(','))


def _build_parser():
  defaults = SampleDataConfig()
  parser = argparse.ArgumentParser(
      prog='python -m beam_pipelines.sample_data',
      description='Writes synthetic CLEVR-like data in the VQA v2 layout.')
  parser.add_argument('out_dir', metavar='OUT_DIR',
                      help='local directory to write into')
  parser.add_argument('--images-per-split', type=int,
                      default=defaults.images_per_split)
  parser.add_argument('--image-size', type=int, default=defaults.image_size,
                      help=f'side in pixels, at least {MIN_IMAGE_SIZE}')
  parser.add_argument('--questions-per-image', type=int,
                      default=defaults.questions_per_image)
  parser.add_argument('--splits', type=_split_list, default=defaults.splits,
                      help='comma-separated split names')
  parser.add_argument('--seed', type=int, default=defaults.seed)
  return parser


def main(argv=None) -> int:
  """Command-line entry point; returns the exit status."""
  parser = _build_parser()
  args = parser.parse_args(argv)
  try:
    config = SampleDataConfig(
        images_per_split=args.images_per_split,
        image_size=args.image_size,
        questions_per_image=args.questions_per_image,
        splits=args.splits,
        seed=args.seed)
  except ValueError as error:
    parser.error(str(error))
  summary = generate(args.out_dir, config)
  for split, counts in summary.items():
    print(f'{split}: {counts["images"]} images, {counts["questions"]} '
          f'questions in {args.out_dir}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
