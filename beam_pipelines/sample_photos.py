"""The photos family: 2x2 grids of real photographs shipped with scikit-image.

Each cell shows a jittered square crop of one of six photographs bundled in the
scikit-image wheel (`skimage.data`, loaded without network access). They were
chosen to stay apart at 16 px a cell (a 32 px image): four colour photographs
of distinct hue and texture, two grey ones. Questions ask what a cell shows,
whether a photo is present, how many cells show it, how many different photos
there are and whether the picture is mostly gray; every question text gets a
balanced answer distribution, as in the shapes family. All answers fall in a
12-answer vocabulary: the six names, yes, no, 1-4.
"""
import collections
import dataclasses

from PIL import Image

from beam_pipelines import sample_vqa
from trainer.contract import errors

DESCRIPTION = ('Grids of scikit-image sample photographs in the VQA v2 '
               'layout.')
GRID = 2
CELLS = GRID * GRID
POSITIONS = ('top-left', 'top-right', 'bottom-left', 'bottom-right')
MIN_CROP_FRACTION = 0.75
# A picture is mostly gray when at least this many cells show a grey photo,
# and mostly in colour when at most CELLS - this many do; in between, the
# question is not asked.
MOSTLY_CELLS = 3


@dataclasses.dataclass(frozen=True)
class Photo:
  """One photograph and how it is asked about.

  Attributes:
    name: the answer naming it.
    phrase: how questions refer to it ('a cat', 'coffee').
    exists_question: the yes/no question about its presence.
    box: (left, top, side) of the square region of the original that crops
      are cut from, in the original's pixels.
    gray: whether the original has no colour.
  """
  name: str
  phrase: str
  exists_question: str
  box: tuple[int, int, int]
  gray: bool


PHOTOS = (
    Photo('astronaut', 'an astronaut', 'Is there an astronaut?',
          (60, 0, 380), False),
    Photo('cat', 'a cat', 'Is there a cat?', (90, 0, 300), False),
    Photo('coffee', 'coffee', 'Is there coffee?', (100, 0, 400), False),
    Photo('rocket', 'a rocket', 'Is there a rocket?', (106, 0, 427), False),
    Photo('coins', 'coins', 'Are there coins?', (40, 0, 303), True),
    Photo('camera', 'a camera', 'Is there a camera?', (0, 0, 512), True),
)
NAMES = tuple(photo.name for photo in PHOTOS)
ANSWERS = NAMES + sample_vqa.YES_NO + sample_vqa.COUNTS


class MissingDependencyError(errors.MissingPackage):
  """scikit-image, which ships the photographs, is not installed."""


@dataclasses.dataclass(frozen=True)
class _Cell:
  """One grid cell: which photo, and where its crop sits in the photo's box.

  Attributes:
    photo: index into PHOTOS.
    scale: side of the crop as a fraction of the box side.
    x, y: where the crop starts, as fractions of the room left in the box.
  """
  photo: int
  scale: float
  x: float
  y: float


# Photographs.


def _skimage_loaders():
  """{photo name: function returning the original array}."""
  try:
    from skimage import data  # pylint: disable=g-import-not-at-top
  except ImportError as error:
    raise MissingDependencyError(
        'the photos family needs scikit-image, which ships the photographs: '
        "pip install 'scikit-image==0.26.*' (or the project's "
        "'sample-data' extra)") from error
  # Only images inside the wheel: others (e.g. data.eagle) are downloaded on
  # first use, which would fail offline.
  return {'astronaut': data.astronaut, 'cat': data.chelsea,
          'coffee': data.coffee, 'rocket': data.rocket, 'coins': data.coins,
          'camera': data.camera}


def load_photos() -> tuple[Image.Image, ...]:
  """Returns each photo's square region as an RGB image, in PHOTOS order."""
  loaders = _skimage_loaders()
  regions = []
  for photo in PHOTOS:
    image = Image.fromarray(loaders[photo.name]()).convert('RGB')
    left, top, side = photo.box
    if left + side > image.width or top + side > image.height:
      raise ValueError(f'box {photo.box} of {photo.name!r} exceeds its '
                       f'{image.width}x{image.height} photograph')
    regions.append(image.crop((left, top, left + side, top + side)))
  return tuple(regions)


# Scenes.


def _sample_scene(rng, image_size):
  """Returns CELLS cells showing 1-4 different photos, uniformly many."""
  del image_size  # Crops are fractions of the photo; drawing sizes them.
  distinct = rng.randint(1, CELLS)
  chosen = rng.sample(range(len(PHOTOS)), distinct)
  # Every chosen photo shows at least once, so "How many different photos"
  # is uniform over 1-4, and repeats make "How many cells show" reach 3 and 4.
  photos = chosen + [rng.choice(chosen) for _ in range(CELLS - distinct)]
  rng.shuffle(photos)
  return tuple(_Cell(photo, rng.uniform(MIN_CROP_FRACTION, 1.0),
                     rng.random(), rng.random()) for photo in photos)


def cell_boxes(image_size):
  """(left, top, right, bottom) of each cell in POSITIONS order."""
  edges = [round(image_size * k / GRID) for k in range(GRID + 1)]
  return tuple((edges[col], edges[row], edges[col + 1], edges[row + 1])
               for row in range(GRID) for col in range(GRID))


def _crop(region, cell):
  side = region.width * cell.scale
  room = region.width - side
  left, top = room * cell.x, room * cell.y
  return region.crop((round(left), round(top), round(left + side),
                      round(top + side)))


def _drawer(regions):
  def draw_scene(scene, image_size):
    image = Image.new('RGB', (image_size, image_size))
    for cell, box in zip(scene, cell_boxes(image_size)):
      size = (box[2] - box[0], box[3] - box[1])
      crop = _crop(regions[cell.photo], cell).resize(size, Image.BILINEAR)
      image.paste(crop, box[:2])
    return image
  return draw_scene


# Questions.


def _names(scene):
  return [PHOTOS[cell.photo].name for cell in scene]


def _position_candidates(scene):
  return [sample_vqa.Question(f'What is in the {position} cell?', name,
                              'what is in the', 'other')
          for position, name in zip(POSITIONS, _names(scene))]


def _question_type(text):
  """'is there' or 'are there', like VQA's question types."""
  return ' '.join(text.lower().split()[:2])


def _exists_candidates(scene):
  present = set(_names(scene))
  return [sample_vqa.Question(photo.exists_question,
                              sample_vqa.yes_no(photo.name in present),
                              _question_type(photo.exists_question), 'yes/no')
          for photo in PHOTOS]


def _count_candidates(scene):
  counts = collections.Counter(_names(scene))
  return [sample_vqa.Question(f'How many cells show {photo.phrase}?',
                              str(counts[photo.name]), 'how many', 'number')
          for photo in PHOTOS if counts[photo.name]]


def _distinct_candidates(scene):
  return [sample_vqa.Question('How many different photos are there?',
                              str(len(set(_names(scene)))), 'how many',
                              'number')]


def _gray_candidates(scene):
  gray_cells = sum(PHOTOS[cell.photo].gray for cell in scene)
  if CELLS - MOSTLY_CELLS < gray_cells < MOSTLY_CELLS:
    return []  # Half and half: no dominant colour to ask about.
  return [sample_vqa.Question('Is the picture mostly gray?',
                              sample_vqa.yes_no(gray_cells >= MOSTLY_CELLS),
                              'is the', 'yes/no')]


# Shares are caps, as in the shapes family; scarce answers (four cells of one
# photo, a mostly gray picture) may drift up to max_share rather than leave
# images short of questions.
_TEMPLATES = (
    sample_vqa.Template(0.35, _position_candidates, NAMES, max_share=0.25),
    sample_vqa.Template(0.35, _exists_candidates, sample_vqa.YES_NO),
    sample_vqa.Template(0.2, _count_candidates, sample_vqa.COUNTS,
                        max_share=0.35),
    sample_vqa.Template(0.15, _distinct_candidates, sample_vqa.COUNTS,
                        max_share=0.3),
    sample_vqa.Template(0.15, _gray_candidates, sample_vqa.YES_NO),
)


def family() -> sample_vqa.Family:
  """Returns the photos family; loads the photographs once.

  Raises:
    MissingDependencyError: scikit-image is not installed.
  """
  return sample_vqa.Family(
      description=DESCRIPTION, templates=_TEMPLATES,
      sample_scene=_sample_scene, draw_scene=_drawer(load_photos()),
      other_answers=NAMES)
