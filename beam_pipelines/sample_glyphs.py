"""The glyphs family: small digits and letters to be read and counted.

Each image is split into four quadrants; two to four of them hold one glyph
(a digit or a capital letter drawn with Pillow's bundled scalable font, no
download) in its own size, rotation, colour and place, over a noisy
background. At the default 96 px a glyph is 13-24 px tall: the answers
depend on details a few pixels wide, not on large flat regions as in the
shapes and photos families. Questions ask which digit or letter a quadrant
holds, how many of a digit there are, whether a letter is present and which
of two digits is drawn bigger; every question text gets a balanced answer
distribution, so a question-only model stays near the majority answer. All
answers fall in a 9-answer vocabulary: the digits 2, 3, 7, the letters
e, k, r (answers are lower case after the official normalisation), yes, no
and the counts 1-3 (2 and 3 shared with the digits).
"""
import collections
import dataclasses

import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont

from beam_pipelines import sample_vqa

DESCRIPTION = 'Digits and letters to read and count, in the VQA v2 layout.'
DIGITS = ('2', '3', '7')
# Not A: the official answer normalisation drops articles ('a'), and
# lower-cases answers: a letter's answer is its lower case (the 'k' of K).
LETTERS = ('E', 'K', 'R')
GLYPHS = DIGITS + LETTERS
COUNTS = ('1', '2', '3')
POSITIONS = ('top left', 'top right', 'bottom left', 'bottom right')
COLORS = ((200, 30, 30), (30, 60, 200), (20, 130, 40), (120, 40, 150),
          (20, 20, 20), (190, 110, 0))


def answer_of(symbol):
  return symbol.lower()


ANSWERS = tuple(sorted({answer_of(symbol) for symbol in GLYPHS} |
                       set(sample_vqa.YES_NO) | set(COUNTS)))

# Glyph height as a fraction of the image side, and the largest rotation.
_SIZE_FRACTION = (0.14, 0.25)
_MAX_DEGREES = 30
# Of two digits compared for size, the bigger is at least this much bigger.
_BIGGER_RATIO = 1.3
_MIN_GLYPHS = 2
# Scenes whose glyphs repeat one symbol make counts of 2 and 3 common enough.
_REPEAT_PROB = 0.35
_NOISE = 40
_BACKGROUND = (225, 222, 210)


@dataclasses.dataclass(frozen=True)
class _Glyph:
  symbol: str
  position: int  # index into POSITIONS
  size: int  # font size in pixels
  degrees: float
  color: tuple[int, int, int]
  x: float  # where the glyph sits in its quadrant's free room, 0..1
  y: float


@dataclasses.dataclass(frozen=True)
class _Scene:
  glyphs: tuple[_Glyph, ...]
  noise_seed: int


# Scenes.


def _symbols(rng, count):
  if rng.random() < _REPEAT_PROB:
    repeated = rng.choice(GLYPHS)
    return [repeated if rng.random() < 0.7 else rng.choice(GLYPHS)
            for _ in range(count)]
  return [rng.choice(GLYPHS) for _ in range(count)]


def _sample_scene(rng, image_size):
  """2-4 glyphs, each alone in a quadrant."""
  count = rng.randint(_MIN_GLYPHS, len(POSITIONS))
  positions = sorted(rng.sample(range(len(POSITIONS)), count))
  glyphs = tuple(
      _Glyph(symbol=symbol, position=position,
             size=max(5, round(rng.uniform(*_SIZE_FRACTION) * image_size)),
             degrees=rng.uniform(-_MAX_DEGREES, _MAX_DEGREES),
             color=rng.choice(COLORS), x=rng.random(), y=rng.random())
      for symbol, position in zip(_symbols(rng, count), positions))
  return _Scene(glyphs=glyphs, noise_seed=rng.randrange(2**31))


def _background(image_size, noise_seed):
  """A light background with pixel noise (deterministic from the seed)."""
  rng = np.random.default_rng(noise_seed)
  noise = rng.integers(-_NOISE, _NOISE + 1, (image_size, image_size, 3))
  pixels = np.clip(np.array(_BACKGROUND) + noise, 0, 255).astype(np.uint8)
  return Image.fromarray(pixels, 'RGB')


def _glyph_image(glyph):
  """The glyph alone, rotated, on a transparent square."""
  font = ImageFont.load_default(size=glyph.size)
  side = glyph.size * 2
  patch = Image.new('RGBA', (side, side), (0, 0, 0, 0))
  ImageDraw.Draw(patch).text((side / 2, side / 2), glyph.symbol, font=font,
                             fill=glyph.color + (255,), anchor='mm')
  patch = patch.rotate(glyph.degrees, resample=Image.BICUBIC)
  return patch.crop(patch.getbbox() or (0, 0, side, side))


def _draw_scene(scene, image_size):
  image = _background(image_size, scene.noise_seed)
  half = image_size // 2
  for glyph in scene.glyphs:
    patch = _glyph_image(glyph)
    left = (glyph.position % 2) * half
    top = (glyph.position // 2) * half
    room_x = max(0, half - patch.width)
    room_y = max(0, half - patch.height)
    image.paste(patch, (left + round(glyph.x * room_x),
                        top + round(glyph.y * room_y)), patch)
  return image


# Questions.


def _kind(symbol):
  return 'digit' if symbol in DIGITS else 'letter'


def _read_candidates(kind):
  """'What digit is in the top left?' (or letter) for each such glyph."""

  def candidates(scene):
    return [sample_vqa.Question(
        f'What {kind} is in the {POSITIONS[glyph.position]}?',
        answer_of(glyph.symbol),
        f'what {kind} is in the', 'other')
            for glyph in scene.glyphs if _kind(glyph.symbol) == kind]

  return candidates


def _count_candidates(scene):
  counts = collections.Counter(glyph.symbol for glyph in scene.glyphs)
  return [sample_vqa.Question(f'How many {digit}s are there?',
                              str(counts[digit]), 'how many', 'number')
          for digit in DIGITS if counts[digit]]


def _exists_candidates(scene):
  present = {glyph.symbol for glyph in scene.glyphs}
  return [sample_vqa.Question(f'Is there a letter {letter}?',
                              sample_vqa.yes_no(letter in present),
                              'is there a', 'yes/no')
          for letter in LETTERS]


def _bigger_candidates(scene):
  """'Which is bigger, the 3 or the 7?' for two digits of clearly different
  sizes, each drawn once (the digits named in order, whichever is bigger)."""
  counts = collections.Counter(glyph.symbol for glyph in scene.glyphs)
  single = {glyph.symbol: glyph for glyph in scene.glyphs
            if glyph.symbol in DIGITS and counts[glyph.symbol] == 1}
  questions = []
  for first, second in ((a, b) for a in DIGITS for b in DIGITS if a < b):
    if first in single and second in single:
      sizes = sorted((single[first].size, single[second].size))
      if sizes[1] >= _BIGGER_RATIO * sizes[0]:
        bigger = max((first, second), key=lambda d: single[d].size)
        questions.append(sample_vqa.Question(
            f'Which is bigger, the {first} or the {second}?', bigger,
            'which is bigger', 'other'))
  return questions


_TEMPLATES = (
    sample_vqa.Template(0.25, _read_candidates('digit'), DIGITS,
                        max_share=0.4),
    sample_vqa.Template(0.25, _read_candidates('letter'),
                        tuple(answer_of(letter) for letter in LETTERS),
                        max_share=0.4),
    sample_vqa.Template(0.3, _count_candidates, COUNTS, max_share=0.5),
    sample_vqa.Template(0.45, _exists_candidates, sample_vqa.YES_NO),
    sample_vqa.Template(0.2, _bigger_candidates, DIGITS, max_share=0.6),
)


def family() -> sample_vqa.Family:
  """Returns the glyphs family."""
  return sample_vqa.Family(
      description=DESCRIPTION, templates=_TEMPLATES,
      sample_scene=_sample_scene, draw_scene=_draw_scene,
      other_answers=tuple(answer_of(symbol) for symbol in GLYPHS))
