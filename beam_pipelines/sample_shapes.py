"""The shapes family: CLEVR-like scenes of coloured circles, squares and
triangles.

Each image shows 1-4 large circles, squares or triangles in red, blue, green or
yellow. Every question text gets a balanced answer distribution (yes/no about
even, colours and counts about uniform), so answering needs both the image and
the question.
"""
import collections
import dataclasses
import math

from PIL import Image
from PIL import ImageDraw

from beam_pipelines import sample_vqa

SHAPES = ('circle', 'square', 'triangle')
COLORS = {
    'red': (220, 40, 40),
    'blue': (40, 90, 220),
    'green': (30, 160, 60),
    'yellow': (240, 200, 20),
}
BACKGROUND = (235, 235, 230)
MAX_OBJECTS = 4
DESCRIPTION = 'Synthetic CLEVR-like sample data in the VQA v2 layout.'

_SIZE_FRACTION = (0.18, 0.30)
_GAP_FRACTION = 0.03
_ALL_SAME_SHAPE_PROB = 0.25
_ALL_SAME_COLOR_PROB = 0.25
_PLACEMENT_TRIES = 50


@dataclasses.dataclass(frozen=True)
class _Shape:
  kind: str
  color: str
  x: int
  y: int
  size: int


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


def _count_all_candidates(scene):
  return [sample_vqa.Question('How many shapes are there?', str(len(scene)),
                              'how many', 'number')]


def _count_shape_candidates(scene):
  counts = collections.Counter(shape.kind for shape in scene)
  return [sample_vqa.Question(f'How many {kind}s are there?',
                              str(counts[kind]), 'how many', 'number')
          for kind in SHAPES if counts[kind]]


def _count_color_candidates(scene):
  counts = collections.Counter(shape.color for shape in scene)
  return [sample_vqa.Question(f'How many {color} shapes are there?',
                              str(counts[color]), 'how many', 'number')
          for color in COLORS if counts[color]]


def _count_color_shape_candidates(scene):
  counts = collections.Counter((shape.color, shape.kind) for shape in scene)
  return [sample_vqa.Question(f'How many {color} {kind}s are there?',
                              str(counts[(color, kind)]), 'how many', 'number')
          for kind in SHAPES for color in COLORS]


def _exists_candidates(scene):
  present = {(shape.color, shape.kind) for shape in scene}
  return [sample_vqa.Question(f'Is there a {color} {kind}?',
                              sample_vqa.yes_no((color, kind) in present),
                              'is there a', 'yes/no')
          for kind in SHAPES for color in COLORS]


def _unique_shapes(scene):
  counts = collections.Counter(shape.kind for shape in scene)
  return [shape for shape in scene if counts[shape.kind] == 1]


def _color_candidates(scene):
  return [sample_vqa.Question(f'What color is the {shape.kind}?', shape.color,
                              'what color is the', 'other')
          for shape in _unique_shapes(scene)]


def _attribute_candidates(scene):
  return [sample_vqa.Question(f'Is the {shape.kind} {color}?',
                              sample_vqa.yes_no(color == shape.color),
                              'is the', 'yes/no')
          for shape in _unique_shapes(scene) for color in COLORS]


# Shares are caps: yes/no families fill what the scarcer families leave, up to
# about half of all questions. Scarce families may let an answer drift up to
# max_share rather than wait for a rare one (four shapes of one kind), which
# would leave images short of questions. "How many red circles?" stays
# unbalanced on purpose: it mostly answers "0", a realistic few percent of
# answers outside the top-10 vocabulary.
_TEMPLATES = (
    sample_vqa.Template(0.2, _count_all_candidates, sample_vqa.COUNTS,
                        max_share=0.3),
    sample_vqa.Template(0.2, _count_shape_candidates, sample_vqa.COUNTS,
                        max_share=0.32),
    sample_vqa.Template(0.2, _count_color_candidates, sample_vqa.COUNTS,
                        max_share=0.32),
    sample_vqa.Template(0.035, _count_color_shape_candidates),
    sample_vqa.Template(0.28, _exists_candidates, sample_vqa.YES_NO),
    sample_vqa.Template(0.2, _color_candidates, tuple(COLORS), max_share=0.3),
    sample_vqa.Template(0.27, _attribute_candidates, sample_vqa.YES_NO),
)


def family() -> sample_vqa.Family:
  """Returns the shapes family."""
  return sample_vqa.Family(
      description=DESCRIPTION, templates=_TEMPLATES,
      sample_scene=_sample_scene, draw_scene=_draw_scene,
      other_answers=tuple(COLORS))
