"""Writes a small sample data set in the official VQA v2 layout.

The question and annotation JSON files and the COCO-style image names match the
official download, so the preprocessing pipeline runs on them unchanged:

  vqa sample-data --output /tmp/vqa_sample --images-per-split 200
  vqa sample-data --output /tmp/vqa_photos --kind photos

Three families: 'shapes' (the default; coloured circles, squares and
triangles, beam_pipelines.sample_shapes), 'photos' (grids of real photographs
shipped with scikit-image, beam_pipelines.sample_photos) and 'glyphs' (small
rotated digits and letters over noise, to be read and counted,
beam_pipelines.sample_glyphs; made for 96 px). Every question text gets a
balanced answer distribution, so answering needs both the image and the
question. Output is byte-identical for the same config.
"""
import dataclasses
import pathlib
import re
import sys

from beam_pipelines import sample_glyphs
from beam_pipelines import sample_photos
from beam_pipelines import sample_shapes
from beam_pipelines import sample_vqa
from trainer.contract import entry_point
from trainer.contract import errors
from trainer.contract import record_spec

KINDS = ('shapes', 'photos', 'glyphs')
MIN_IMAGE_SIZE = sample_vqa.MIN_IMAGE_SIZE

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
    kind: 'shapes', 'photos' or 'glyphs', the family of scenes.
    out_dir: the folder `vqa sample-data` writes into.
  """
  images_per_split: int = 200
  image_size: int = dataclasses.field(default=96, metadata={
      'help': f'side in pixels, at least {MIN_IMAGE_SIZE}'})
  questions_per_image: int = 5
  splits: tuple[str, ...] = dataclasses.field(
      default=('train2014', 'val2014'), metadata={
          'type': record_spec.split_list, 'help': 'comma-separated split names'})
  seed: int = 0
  kind: str = dataclasses.field(default='shapes', metadata={
      'choices': KINDS, 'help': 'shapes: coloured shapes; photos: 2x2 grids '
                                'of scikit-image photographs; glyphs: small '
                                'digits and letters to read and count (use '
                                '96 px)'})
  # Where `vqa sample-data` writes; `generate` takes the folder itself.
  out_dir: str = dataclasses.field(default='', metadata={
      'flag': '--output', 'deprecated_positional': True, 'required': True,
      'metavar': 'DIR', 'help': 'local folder to write into'})

  def __post_init__(self):
    _check_int('images_per_split', self.images_per_split, 1,
               sample_vqa.IMAGE_ID_STRIDE - 1)
    _check_int('image_size', self.image_size, MIN_IMAGE_SIZE)
    _check_int('questions_per_image', self.questions_per_image, 1,
               sample_vqa.QUESTION_ID_STRIDE - 1)
    _check_int('seed', self.seed)
    _check_splits(self.splits)
    if self.kind not in KINDS:
      raise errors.UserError(f'kind must be one of {KINDS}, got {self.kind!r}')


def _check_int(name, value, low=None, high=None):
  if isinstance(value, bool) or not isinstance(value, int):
    raise errors.UserError(f'{name} must be an integer, got {value!r}')
  if low is not None and value < low:
    raise errors.UserError(f'{name} must be >= {low}, got {value}')
  if high is not None and value > high:
    raise errors.UserError(f'{name} must be <= {high}, got {value}')


def _check_splits(splits):
  if not isinstance(splits, tuple) or not splits:
    raise errors.UserError(
        f'splits must be a non-empty tuple of names, got {splits!r}')
  for split in splits:
    if not isinstance(split, str) or not _SPLIT_NAME.match(split):
      raise errors.UserError(
          f'split names may use only letters, digits, "_" and "-": {split!r}')
  if len(set(splits)) != len(splits):
    raise errors.UserError(f'splits must not repeat: {splits!r}')


def _family(kind):
  if kind == 'photos':
    return sample_photos.family()
  if kind == 'glyphs':
    return sample_glyphs.family()
  return sample_shapes.family()


def generate(out_dir: str, config: SampleDataConfig) -> dict:
  """Writes the data set under `out_dir`.

  Args:
    out_dir: local directory; created if missing, files in it are overwritten.
    config: what to generate.

  Returns:
    {split: {'images': n, 'questions': n}} for each split.
  """
  # Built before anything is written, so a missing scikit-image leaves no
  # half-written directory behind.
  family = _family(config.kind)
  pathlib.Path(out_dir).mkdir(parents=True, exist_ok=True)
  return {split: sample_vqa.generate_split(out_dir, split, split_index,
                                           config, family)
          for split_index, split in enumerate(config.splits)}


if __name__ == '__main__':
  sys.exit(entry_point.refuse_direct_run('sample-data', 'beam_pipelines.sample_data'))
