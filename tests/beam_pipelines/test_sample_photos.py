"""Tests for the photos family of beam_pipelines.sample_data."""
import collections
import json
import pathlib
import socket
import sys

import numpy as np
from PIL import Image
import pytest

from beam_pipelines import layout
from beam_pipelines import sample_data
from beam_pipelines import sample_photos
from beam_pipelines import sample_shapes
from tests.beam_pipelines import sample_files
from trainer.app import cli

YES_NO_TYPE = 'yes/no'
SMALL = sample_data.SampleDataConfig(
    images_per_split=30, image_size=64, kind='photos', seed=3)
LARGE = sample_data.SampleDataConfig(
    images_per_split=400, image_size=32, splits=('train2014',), kind='photos',
    seed=11)


@pytest.fixture(scope='module')
def small(tmp_path_factory):
  out_dir = tmp_path_factory.mktemp('small')
  summary = sample_data.generate(str(out_dir), SMALL)
  return out_dir, summary


@pytest.fixture(scope='module')
def large(tmp_path_factory):
  out_dir = tmp_path_factory.mktemp('large')
  sample_data.generate(str(out_dir), LARGE)
  return out_dir, sample_files.qa_pairs(out_dir, 'train2014')


@pytest.fixture(scope='module')
def regions():
  return sample_photos.load_photos()


def by_text(pairs):
  counts = collections.defaultdict(collections.Counter)
  for text, annotation in pairs:
    counts[text][annotation['multiple_choice_answer']] += 1
  return counts


def open_image(out_dir, split, image_id):
  path = pathlib.Path(layout.image_dir(str(out_dir), split),
                      layout.image_filename(split, image_id))
  with Image.open(path) as image:
    return np.asarray(image.convert('RGB'), dtype=np.float32)


def nearest_photo(cell_pixels, references):
  """Name of the photo whose whole region, shrunk to the cell, is closest."""
  distances = [np.abs(cell_pixels - reference).mean()
               for reference in references]
  return sample_photos.NAMES[int(np.argmin(distances))]


def test_writes_the_official_layout_and_schema(small):
  out_dir, summary = small
  expected = set()
  for split in SMALL.splits:
    expected |= {layout.questions_filename(split),
                 layout.annotations_filename(split)}
    questions, annotations = sample_files.load_split(out_dir, split)
    assert questions['data_subtype'] == split
    assert questions['info']['description'] == sample_photos.DESCRIPTION
    assert summary[split] == {'images': SMALL.images_per_split,
                              'questions': len(questions['questions'])}
    for question in questions[layout.QUESTIONS_KEY]:
      assert tuple(question) == layout.QUESTION_FIELDS
      image_id, k = divmod(question['question_id'], 1000)
      assert image_id == question['image_id'] and 0 <= k < 5
      expected.add(f'{split}/{layout.image_filename(split, image_id)}')
    for annotation in annotations[layout.ANNOTATIONS_KEY]:
      assert tuple(annotation) == layout.ANNOTATION_FIELDS
      assert annotation['answer_type'] in layout.ANSWER_TYPES
      assert [a['answer_id'] for a in annotation['answers']] == list(
          range(1, 11))
    assert len(annotations['annotations']) == len(questions['questions'])
  written = {str(path) for path in sample_files.file_bytes(out_dir)}
  assert written == expected


def test_images_are_rgb_jpegs_of_the_requested_size(small):
  out_dir, _ = small
  paths = sorted(pathlib.Path(out_dir, 'val2014').iterdir())
  assert len(paths) == SMALL.images_per_split
  for path in paths:
    with Image.open(path) as image:
      assert (image.format, image.mode) == ('JPEG', 'RGB')
      assert image.size == (SMALL.image_size, SMALL.image_size)


def test_every_image_gets_the_requested_number_of_questions(large):
  _, pairs = large
  per_image = collections.Counter(a['image_id'] for _, a in pairs)
  assert len(per_image) == LARGE.images_per_split
  assert len(pairs) >= 0.95 * LARGE.images_per_split * 5


def test_answers_fill_a_12_answer_vocabulary(large):
  _, pairs = large
  answers = collections.Counter(a['multiple_choice_answer'] for _, a in pairs)
  assert set(answers) == set(sample_photos.ANSWERS)
  assert len(sample_photos.ANSWERS) == 12
  assert max(answers.values()) / len(pairs) <= 0.25


def test_every_question_text_has_a_balanced_answer_distribution(large):
  _, pairs = large
  answer_types = {text: a['answer_type'] for text, a in pairs}
  frequent = {text: counts for text, counts in by_text(pairs).items()
              if sum(counts.values()) >= 30}
  assert len(frequent) >= 15
  for text, counts in frequent.items():
    share = max(counts.values()) / sum(counts.values())
    # Two answers for yes/no; four counts or six photo names otherwise.
    bound = 0.55 if answer_types[text] == YES_NO_TYPE else 0.4
    assert share <= bound, (text, counts)


def test_question_only_answers_stay_near_the_majority_baseline(large):
  # The best any question-only model can do: each text's most common answer.
  _, pairs = large
  oracle = sum(max(c.values()) for c in by_text(pairs).values()) / len(pairs)
  answers = collections.Counter(a['multiple_choice_answer'] for _, a in pairs)
  majority = max(answers.values()) / len(pairs)
  assert oracle <= 0.4
  assert oracle - majority <= 0.25


def test_human_answers_are_noisy_but_agree_after_normalisation(large):
  _, pairs = large
  variants, disagreeing = 0, 0
  for _, annotation in pairs:
    canonical = annotation['multiple_choice_answer']
    raws = [a['answer'] for a in annotation['answers']]
    normalized = collections.Counter(map(sample_files.normalize, raws))
    assert normalized.most_common(1)[0][0] == canonical
    assert normalized[canonical] >= 7
    variants += sum(raw != canonical for raw in raws
                    if sample_files.normalize(raw) == canonical)
    disagreeing += len(normalized) > 1
    if annotation['answer_type'] == 'other':
      assert set(normalized) <= set(sample_photos.NAMES)
  assert variants >= 0.05 * len(pairs)
  assert 0.2 <= disagreeing / len(pairs) <= 0.7


def test_each_cell_shows_the_photo_its_answer_names(large, regions):
  # At 32 px a cell is 16 px: the photos must still tell apart there.
  out_dir, pairs = large
  boxes = sample_photos.cell_boxes(LARGE.image_size)
  side = boxes[0][2] - boxes[0][0]
  references = [np.asarray(region.resize((side, side), Image.BILINEAR),
                           dtype=np.float32) for region in regions]
  hits, total = collections.Counter(), collections.Counter()
  for text, annotation in pairs:
    if not text.startswith('What is in the '):
      continue
    position = sample_photos.POSITIONS.index(text.split()[4])
    left, top, right, bottom = boxes[position]
    image = open_image(out_dir, 'train2014', annotation['image_id'])
    answer = annotation['multiple_choice_answer']
    total[answer] += 1
    hits[answer] += nearest_photo(image[top:bottom, left:right],
                                  references) == answer
  assert set(total) == set(sample_photos.NAMES)
  for name in sample_photos.NAMES:
    assert hits[name] / total[name] >= 0.9, (name, hits[name], total[name])


def test_gray_photos_are_gray_and_colour_photos_are_not(regions):
  for photo, region in zip(sample_photos.PHOTOS, regions):
    pixels = np.asarray(region, dtype=np.float32)
    spread = (pixels.max(axis=-1) - pixels.min(axis=-1)).mean()
    if photo.gray:
      assert spread == 0, photo.name
    else:
      assert spread > 20, (photo.name, spread)


def test_photos_load_without_network(monkeypatch):
  def refuse(*args, **kwargs):
    raise OSError(f'network access attempted: {args}')
  monkeypatch.setattr(socket.socket, 'connect', refuse)
  monkeypatch.setattr(socket, 'create_connection', refuse)
  regions = sample_photos.load_photos()
  assert len(regions) == len(sample_photos.PHOTOS)
  assert all(region.width == region.height >= 256 for region in regions)


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path):
  for name, seed in (('a', 5), ('b', 5), ('c', 6)):
    sample_data.generate(str(tmp_path / name), sample_data.SampleDataConfig(
        images_per_split=6, image_size=32, kind='photos', seed=seed))
  first = sample_files.file_bytes(tmp_path / 'a')
  assert first == sample_files.file_bytes(tmp_path / 'b')
  other = sample_files.file_bytes(tmp_path / 'c')
  assert first.keys() == other.keys()
  images = [key for key in first if key.suffix == '.jpg']
  assert any(first[key] != other[key] for key in images)


def test_cli_kind_photos_output_preprocesses_with_12_answers(tmp_path, capsys):
  raw, records = tmp_path / 'raw', tmp_path / 'records'
  assert cli.main(['sample-data', '--output', str(raw), '--kind', 'photos',
                   '--images-per-split', '30', '--image-size', '32',
                   '--splits', 'train2014', '--seed', '2']) == 0
  assert capsys.readouterr().out.startswith('train2014: 30 images')
  assert cli.main(['preprocess', '--data-dir', str(raw), '--output',
                   str(records), '--splits', 'train2014', '--image-size', '32',
                   '--num-shards', '1', '--top-answers', '12',
                   '--direct_running_mode=in_memory']) == 0
  answers = json.loads((records / 'answers.json').read_text())['answers']
  assert set(answers) == set(sample_photos.ANSWERS)
  counts = json.loads((records / 'metadata.json').read_text())['counts']
  questions, _ = sample_files.load_split(raw, 'train2014')
  assert counts['train2014']['written'] == len(questions['questions'])
  assert list(records.glob('train2014/part-*.tfrecord.gz'))


def test_shapes_stay_the_default_kind(tmp_path):
  assert cli.main(['sample-data', '--output', str(tmp_path), '--images-per-split', '2',
                   '--image-size', '32', '--splits', 'val2014']) == 0
  questions, _ = sample_files.load_split(tmp_path, 'val2014')
  assert questions['info']['description'] == sample_shapes.DESCRIPTION


def test_missing_scikit_image_is_explained(tmp_path, monkeypatch, capsys):
  monkeypatch.setitem(sys.modules, 'skimage', None)  # import now fails
  out_dir = tmp_path / 'out'
  status = cli.main(['sample-data', '--output', str(out_dir), '--kind', 'photos'])
  assert status == 1
  assert 'scikit-image' in capsys.readouterr().err
  assert not out_dir.exists()


def test_an_unknown_kind_is_refused(tmp_path, capsys):
  assert cli.main(['sample-data', '--output', str(tmp_path), '--kind',
                   'faces']) == 2
  err = capsys.readouterr().err
  assert err.startswith('vqa sample-data: error: argument --kind: invalid '
                        "choice: 'faces'")
  assert len(err.splitlines()) == 1
