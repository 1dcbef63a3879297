"""Tests for beam_pipelines.sample_data."""
import collections
import pathlib
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest

from beam_pipelines import layout
from beam_pipelines import sample_data
from beam_pipelines import sample_shapes
from tests.beam_pipelines import sample_files
from trainer.app import cli

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
TOP10 = ('yes', 'no', '1', '2', '3', '4', 'red', 'blue', 'green', 'yellow')
SMALL = sample_data.SampleDataConfig(
    images_per_split=30, image_size=64, questions_per_image=5, seed=3)
LARGE = sample_data.SampleDataConfig(
    images_per_split=400, image_size=32, splits=('train2014',), seed=11)


@pytest.fixture(scope='module')
def small(tmp_path_factory):
  out_dir = tmp_path_factory.mktemp('small')
  summary = sample_data.generate(str(out_dir), SMALL)
  return out_dir, summary


@pytest.fixture(scope='module')
def large_pairs(tmp_path_factory):
  out_dir = tmp_path_factory.mktemp('large')
  sample_data.generate(str(out_dir), LARGE)
  return sample_files.qa_pairs(out_dir, 'train2014')


def test_writes_official_file_names_and_nothing_else(small):
  out_dir, _ = small
  expected = set()
  for split in SMALL.splits:
    expected.add(layout.questions_filename(split))
    expected.add(layout.annotations_filename(split))
    questions, _ = sample_files.load_split(out_dir, split)
    for image_id in {q['image_id'] for q in questions['questions']}:
      expected.add(f'{split}/{layout.image_filename(split, image_id)}')
  written = {str(path) for path in sample_files.file_bytes(out_dir)}
  assert written == expected


def test_images_are_rgb_jpegs_of_the_requested_size(small):
  out_dir, _ = small
  for split in SMALL.splits:
    image_dir = pathlib.Path(layout.image_dir(str(out_dir), split))
    paths = sorted(image_dir.iterdir())
    assert len(paths) == SMALL.images_per_split
    for path in paths:
      with Image.open(path) as image:
        assert image.format == 'JPEG'
        assert image.mode == 'RGB'
        assert image.size == (SMALL.image_size, SMALL.image_size)


def test_questions_file_schema(small):
  out_dir, _ = small
  for split in SMALL.splits:
    questions, _ = sample_files.load_split(out_dir, split)
    assert set(questions) == {'info', 'task_type', 'data_type', 'license',
                              'data_subtype', layout.QUESTIONS_KEY}
    assert questions['task_type'] == 'Open-Ended'
    assert questions['data_type'] == 'mscoco'
    assert questions['data_subtype'] == split
    assert isinstance(questions['info'], dict)
    assert isinstance(questions['license'], dict)
    for question in questions[layout.QUESTIONS_KEY]:
      assert tuple(question) == layout.QUESTION_FIELDS
      assert isinstance(question['image_id'], int)
      assert isinstance(question['question_id'], int)
      assert question['question'].endswith('?')


def test_annotations_file_schema(small):
  out_dir, _ = small
  for split in SMALL.splits:
    _, annotations = sample_files.load_split(out_dir, split)
    assert set(annotations) == {'info', 'license', 'data_type',
                                'data_subtype', layout.ANNOTATIONS_KEY}
    assert annotations['data_type'] == 'mscoco'
    assert annotations['data_subtype'] == split
    for annotation in annotations[layout.ANNOTATIONS_KEY]:
      assert tuple(annotation) == layout.ANNOTATION_FIELDS
      assert annotation['answer_type'] in layout.ANSWER_TYPES
      assert annotation['question_type']
      assert isinstance(annotation['multiple_choice_answer'], str)
      answers = annotation['answers']
      assert [a['answer_id'] for a in answers] == list(range(1, 11))
      for answer in answers:
        assert tuple(answer) == layout.HUMAN_ANSWER_FIELDS
        assert isinstance(answer['answer'], str)
        assert answer['answer_confidence'] in ('yes', 'maybe', 'no')


def test_every_question_has_one_matching_annotation(small):
  out_dir, _ = small
  for split in SMALL.splits:
    questions, annotations = sample_files.load_split(out_dir, split)
    by_id = collections.defaultdict(list)
    for annotation in annotations['annotations']:
      by_id[annotation['question_id']].append(annotation)
    assert len(by_id) == len(questions['questions'])
    for question in questions['questions']:
      matches = by_id[question['question_id']]
      assert len(matches) == 1
      assert matches[0]['image_id'] == question['image_id']


def test_ids_follow_vqa_scheme_and_are_unique_across_splits(small):
  out_dir, _ = small
  image_ids = {}
  for split in SMALL.splits:
    questions, _ = sample_files.load_split(out_dir, split)
    image_ids[split] = {q['image_id'] for q in questions['questions']}
    question_ids = [q['question_id'] for q in questions['questions']]
    assert len(set(question_ids)) == len(question_ids)
    for question in questions['questions']:
      image_id, k = divmod(question['question_id'], 1000)
      assert image_id == question['image_id']
      assert 0 <= k < SMALL.questions_per_image
  assert min(image_ids['train2014']) == 1
  assert not image_ids['train2014'] & image_ids['val2014']


def test_summary_matches_files(small):
  out_dir, summary = small
  assert set(summary) == set(SMALL.splits)
  for split in SMALL.splits:
    questions, _ = sample_files.load_split(out_dir, split)
    assert summary[split] == {'images': SMALL.images_per_split,
                              'questions': len(questions['questions'])}


def test_most_images_get_the_requested_number_of_questions(large_pairs):
  per_image = collections.Counter(a['image_id'] for _, a in large_pairs)
  assert len(per_image) == LARGE.images_per_split
  assert max(per_image.values()) == LARGE.questions_per_image
  assert len(large_pairs) / len(per_image) >= 4.5


def test_same_seed_gives_identical_bytes(tmp_path):
  config = sample_data.SampleDataConfig(images_per_split=6, image_size=32,
                                        seed=5)
  sample_data.generate(str(tmp_path / 'a'), config)
  sample_data.generate(str(tmp_path / 'b'), config)
  assert (sample_files.file_bytes(tmp_path / 'a') ==
          sample_files.file_bytes(tmp_path / 'b'))


def test_a_test_split_has_questions_and_images_but_no_annotations(tmp_path):
  config = sample_data.SampleDataConfig(
      images_per_split=4, image_size=32, splits=('train2014', 'test2015'))
  summary = sample_data.generate(str(tmp_path), config)
  assert summary['test2015']['questions'] > 0
  assert (tmp_path / layout.questions_filename('test2015')).exists()
  assert not (tmp_path / layout.annotations_filename('test2015')).exists()
  assert (tmp_path / layout.annotations_filename('train2014')).exists()
  assert len(list((tmp_path / 'test2015').glob('*.jpg'))) == 4


def test_different_seed_gives_different_data(tmp_path):
  for seed in (5, 6):
    config = sample_data.SampleDataConfig(images_per_split=6, image_size=32,
                                          seed=seed)
    sample_data.generate(str(tmp_path / str(seed)), config)
  first = sample_files.file_bytes(tmp_path / '5')
  second = sample_files.file_bytes(tmp_path / '6')
  assert first.keys() == second.keys()
  name = pathlib.Path(layout.annotations_filename('train2014'))
  assert first[name] != second[name]
  images = [key for key in first if key.suffix == '.jpg']
  assert any(first[key] != second[key] for key in images)


def test_yes_no_answers_are_balanced(large_pairs):
  for question_type in ('is there a', 'is the'):
    answers = [a['multiple_choice_answer'] for _, a in large_pairs
               if a['question_type'] == question_type]
    assert len(answers) >= 100
    assert set(answers) == {'yes', 'no'}
    assert 0.35 <= answers.count('yes') / len(answers) <= 0.65


def test_colour_and_count_answers_are_spread(large_pairs):
  colours = collections.Counter(a['multiple_choice_answer']
                                for _, a in large_pairs
                                if a['answer_type'] == 'other')
  assert set(colours) == {'red', 'blue', 'green', 'yellow'}
  assert max(colours.values()) / sum(colours.values()) <= 0.35
  totals = collections.Counter(a['multiple_choice_answer']
                               for text, a in large_pairs
                               if text == 'How many shapes are there?')
  assert set(totals) == {'1', '2', '3', '4'}
  assert max(totals.values()) / sum(totals.values()) <= 0.35


def test_question_text_alone_does_not_give_the_answer(large_pairs):
  by_text = collections.defaultdict(collections.Counter)
  for text, annotation in large_pairs:
    by_text[text][annotation['multiple_choice_answer']] += 1
  oracle_hits = sum(max(counts.values()) for counts in by_text.values())
  assert oracle_hits / len(large_pairs) <= 0.6


def unbalanced_on_purpose(text):
  """True for "How many red circles are there?", which mostly answers 0."""
  words = text.split()
  return (text.startswith('How many ') and words[2] in sample_shapes.COLORS and
          words[3] != 'shapes')


def test_every_balanced_question_text_has_no_dominant_answer(large_pairs):
  by_text = collections.defaultdict(collections.Counter)
  for text, annotation in large_pairs:
    if not unbalanced_on_purpose(text):
      by_text[text][annotation['multiple_choice_answer']] += 1
  frequent = {text: counts for text, counts in by_text.items()
              if sum(counts.values()) >= 20}
  assert len(frequent) >= 20
  for text, counts in frequent.items():
    assert max(counts.values()) / sum(counts.values()) <= 0.65, (text, counts)


def test_no_answer_dominates(large_pairs):
  answers = collections.Counter(a['multiple_choice_answer']
                                for _, a in large_pairs)
  assert max(answers.values()) / len(large_pairs) <= 0.3


def test_few_answers_fall_outside_the_top10(large_pairs):
  outside = [a for _, a in large_pairs
             if a['multiple_choice_answer'] not in TOP10]
  assert 0 < len(outside) <= 0.06 * len(large_pairs)


def test_human_answers_are_noisy_but_agree_after_normalisation(large_pairs):
  raw_variants = 0
  for _, annotation in large_pairs:
    canonical = annotation['multiple_choice_answer']
    raws = [a['answer'] for a in annotation['answers']]
    raw_variants += sum(raw != canonical for raw in raws
                        if sample_files.normalize(raw) == canonical)
    normalized = collections.Counter(
        sample_files.normalize(raw) for raw in raws)
    assert normalized.most_common(1)[0][0] == canonical
    assert normalized[canonical] >= 7
    assert raws.count(canonical) >= 3
  assert raw_variants >= 0.05 * len(large_pairs)


def test_some_annotators_disagree(large_pairs):
  disagreeing = [a for _, a in large_pairs
                 if len({sample_files.normalize(x['answer'])
                         for x in a['answers']}) > 1]
  assert 0.2 <= len(disagreeing) / len(large_pairs) <= 0.7


def test_number_answers_use_digits_or_words_one_to_ten(large_pairs):
  for _, annotation in large_pairs:
    if annotation['answer_type'] != 'number':
      continue
    for answer in annotation['answers']:
      text = answer['answer'].strip().lower()
      assert (text.isdigit() or
              text in sample_files.NUMBER_WORDS), answer['answer']


def foreground_components(image, min_pixels=4):
  """Counts 4-connected regions that differ clearly from the background."""
  pixels = np.asarray(image, dtype=np.int32)
  background = np.array(sample_shapes.BACKGROUND)
  mask = np.abs(pixels - background).max(axis=-1) > 60
  seen = np.zeros_like(mask)
  height, width = mask.shape
  count = 0
  for start in zip(*np.nonzero(mask)):
    if seen[start]:
      continue
    seen[start] = True
    stack, size = [start], 0
    while stack:
      y, x = stack.pop()
      size += 1
      for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
        inside = 0 <= ny < height and 0 <= nx < width
        if inside and mask[ny, nx] and not seen[ny, nx]:
          seen[ny, nx] = True
          stack.append((ny, nx))
    count += size >= min_pixels
  return count


def colour_pixels(image, colour):
  pixels = np.asarray(image, dtype=np.int32)
  target = np.array(sample_shapes.COLORS[colour])
  return int((np.abs(pixels - target).max(axis=-1) < 50).sum())


def open_image(out_dir, split, image_id):
  path = pathlib.Path(layout.image_dir(str(out_dir), split),
                      layout.image_filename(split, image_id))
  with Image.open(path) as image:
    return image.convert('RGB')


def test_images_show_what_the_answers_say(small):
  out_dir, _ = small
  checked = collections.Counter()
  for split in SMALL.splits:
    for text, annotation in sample_files.qa_pairs(out_dir, split):
      answer = annotation['multiple_choice_answer']
      image = open_image(out_dir, split, annotation['image_id'])
      if text == 'How many shapes are there?':
        assert foreground_components(image) == int(answer)
        checked['count'] += 1
      elif annotation['answer_type'] == 'other':
        assert colour_pixels(image, answer) >= 20
        checked['colour'] += 1
  assert checked['count'] >= 5 and checked['colour'] >= 5


def test_config_rejects_bad_values():
  for bad in (dict(images_per_split=0), dict(image_size=31),
              dict(questions_per_image=0), dict(splits=()),
              dict(splits=('train2014', 'train2014')),
              dict(splits=('../x',)), dict(splits='train2014'),
              dict(kind='faces')):
    with pytest.raises(ValueError):
      sample_data.SampleDataConfig(**bad)


def test_main_writes_files_and_prints_a_summary(tmp_path, capsys):
  status = cli.main([
      'sample-data', '--output', str(tmp_path), '--images-per-split', '3',
      '--image-size', '32', '--questions-per-image', '2', '--splits', 'train2014,val2014',
      '--seed', '7'])
  assert status == 0
  lines = capsys.readouterr().out.strip().splitlines()
  assert len(lines) == 2
  assert lines[0].startswith('train2014: 3 images')
  for split in ('train2014', 'val2014'):
    questions, _ = sample_files.load_split(tmp_path, split)
    assert len({q['image_id'] for q in questions['questions']}) == 3
    assert len(list(pathlib.Path(tmp_path, split).glob('*.jpg'))) == 3


def test_main_rejects_a_bad_argument(tmp_path, capsys):
  assert cli.main(['sample-data', '--output', str(tmp_path), '--image-size', '16']) == 2
  assert 'image_size' in capsys.readouterr().err
  assert not list(tmp_path.iterdir())


def test_runs_as_a_module(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'trainer.app.cli', 'sample-data', '--output', str(tmp_path),
       '--images-per-split', '2', '--image-size', '32', '--splits', 'val2014'],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)
  assert result.returncode == 0, result.stderr
  assert result.stdout.startswith('val2014: 2 images')
  assert pathlib.Path(layout.questions_path(str(tmp_path), 'val2014')).exists()
