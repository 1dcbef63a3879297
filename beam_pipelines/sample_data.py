"""Writes a small sample data set in the official VQA v2 layout.

The question and annotation JSON files and the COCO-style image names match the
official download, so the preprocessing pipeline runs on them unchanged:

  python -m beam_pipelines.sample_data /tmp/vqa_sample --images-per-split 200
  python -m beam_pipelines.sample_data /tmp/vqa_photos --kind photos

Two families: 'shapes' (the default; coloured circles, squares and triangles,
beam_pipelines.sample_shapes) and 'photos' (grids of real photographs shipped
with scikit-image, beam_pipelines.sample_photos). Every question text gets a
balanced answer distribution, so answering needs both the image and the
question. Output is byte-identical for the same config.
"""
import argparse
import dataclasses
import pathlib
import re
import sys

from beam_pipelines import sample_photos
from beam_pipelines import sample_shapes
from beam_pipelines import sample_vqa

KINDS = ('shapes', 'photos')
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
    kind: 'shapes' or 'photos', the family of scenes.
  """
  images_per_split: int = 200
  image_size: int = 96
  questions_per_image: int = 5
  splits: tuple[str, ...] = ('train2014', 'val2014')
  seed: int = 0
  kind: str = 'shapes'

  def __post_init__(self):
    _check_int('images_per_split', self.images_per_split, 1,
               sample_vqa.IMAGE_ID_STRIDE - 1)
    _check_int('image_size', self.image_size, MIN_IMAGE_SIZE)
    _check_int('questions_per_image', self.questions_per_image, 1,
               sample_vqa.QUESTION_ID_STRIDE - 1)
    _check_int('seed', self.seed)
    _check_splits(self.splits)
    if self.kind not in KINDS:
      raise ValueError(f'kind must be one of {KINDS}, got {self.kind!r}')


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


def _family(kind):
  if kind == 'photos':
    return sample_photos.family()
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


def _split_list(text):
  return tuple(part.strip() for part in text.split(','))


def _build_parser():
  defaults = SampleDataConfig()
  parser = argparse.ArgumentParser(
      prog='python -m beam_pipelines.sample_data',
      description='Writes sample VQA v2 data: synthetic shapes or grids of '
      'real photographs.')
  parser.add_argument('out_dir', metavar='OUT_DIR',
                      help='local directory to write into')
  parser.add_argument('--kind', choices=KINDS, default=defaults.kind,
                      help='shapes: coloured shapes (default); photos: 2x2 '
                      'grids of scikit-image photographs')
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
        seed=args.seed,
        kind=args.kind)
  except ValueError as error:
    parser.error(str(error))
  try:
    summary = generate(args.out_dir, config)
  except sample_photos.MissingDependencyError as error:
    print(f'error: {error}', file=sys.stderr)
    return 1
  for split, counts in summary.items():
    print(f'{split}: {counts["images"]} images, {counts["questions"]} '
          f'questions in {args.out_dir}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
