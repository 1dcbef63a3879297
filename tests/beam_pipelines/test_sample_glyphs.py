"""Tests for the glyphs family of beam_pipelines.sample_data."""
import collections
import dataclasses
import json
import random

import numpy as np
import pytest

from beam_pipelines import sample_data
from beam_pipelines import sample_glyphs
from tests.beam_pipelines import sample_files
from trainer.app import cli

LARGE = sample_data.SampleDataConfig(
    images_per_split=300, image_size=96, splits=('train2014',), kind='glyphs',
    seed=4)
DARK = (20, 20, 20)


@pytest.fixture(scope='module')
def pairs(tmp_path_factory):
  out_dir = tmp_path_factory.mktemp('glyphs')
  sample_data.generate(str(out_dir), LARGE)
  return sample_files.qa_pairs(out_dir, 'train2014')


def _scene(*glyphs):
  return sample_glyphs._Scene(glyphs=tuple(glyphs), noise_seed=1)  # pylint: disable=protected-access


def _glyph(symbol, position, size=20, color=DARK):
  return sample_glyphs._Glyph(symbol=symbol, position=position, size=size,  # pylint: disable=protected-access
                              degrees=10.0, color=color, x=0.5, y=0.5)


def _quadrants(pixels):
  half = pixels.shape[0] // 2
  return [pixels[:half, :half], pixels[:half, half:], pixels[half:, :half],
          pixels[half:, half:]]


def test_each_glyph_is_drawn_in_its_quadrant_and_nowhere_else():
  scene = _scene(_glyph('7', 0), _glyph('K', 3))
  pixels = np.asarray(sample_glyphs._draw_scene(scene, 96))  # pylint: disable=protected-access
  dark = [int((quadrant.max(axis=-1) < 100).sum())
          for quadrant in _quadrants(pixels)]
  # The noisy background never gets this dark; the glyphs' strokes do.
  assert dark[0] > 10 and dark[3] > 10, dark
  assert dark[1] == dark[2] == 0, dark


def test_a_bigger_font_draws_more_pixels():
  small = np.asarray(sample_glyphs._draw_scene(_scene(_glyph('3', 0, 12)), 96))  # pylint: disable=protected-access
  large = np.asarray(sample_glyphs._draw_scene(_scene(_glyph('3', 0, 24)), 96))  # pylint: disable=protected-access
  assert (large.max(axis=-1) < 100).sum() > 2 * (small.max(axis=-1) < 100).sum()


def test_questions_say_what_the_scene_holds():
  scene = _scene(_glyph('7', 0, 14), _glyph('7', 1, 15), _glyph('3', 2, 24),
                 _glyph('K', 3))
  family = sample_glyphs.family()
  answers = {question.text: question.answer
             for template in family.templates
             for question in template.candidates(scene)}
  assert answers['What digit is in the top left?'] == '7'
  assert answers['What letter is in the bottom right?'] == 'k'
  assert answers['How many 7s are there?'] == '2'
  assert answers['Is there a letter K?'] == 'yes'
  assert answers['Is there a letter E?'] == 'no'
  # 7 is drawn twice: "the 7" would be ambiguous, so no size question.
  assert not any(text.startswith('Which is bigger') for text in answers)
  scene = _scene(_glyph('2', 0, 12), _glyph('7', 1, 24))
  answers = {question.text: question.answer
             for question in sample_glyphs._bigger_candidates(scene)}  # pylint: disable=protected-access
  assert answers == {'Which is bigger, the 2 or the 7?': '7'}
  similar = _scene(_glyph('2', 0, 20), _glyph('7', 1, 22))
  assert not sample_glyphs._bigger_candidates(similar)  # pylint: disable=protected-access


def test_scenes_hold_two_to_four_glyphs_one_per_quadrant():
  rng = random.Random(0)
  for _ in range(200):
    scene = sample_glyphs._sample_scene(rng, 96)  # pylint: disable=protected-access
    positions = [glyph.position for glyph in scene.glyphs]
    assert 2 <= len(positions) <= 4
    assert len(set(positions)) == len(positions)
    assert all(13 <= glyph.size <= 24 for glyph in scene.glyphs)


def test_answers_are_balanced_so_the_question_alone_does_not_tell(pairs):
  by_text = collections.defaultdict(collections.Counter)
  for text, annotation in pairs:
    by_text[text][annotation['multiple_choice_answer']] += 1
  assert len(pairs) >= 4 * LARGE.images_per_split
  assert {answer for counts in by_text.values() for answer in counts} <= set(
      sample_glyphs.ANSWERS)
  # Answering each text with its most common answer (what a question-only
  # model can learn at best) is right on at most 60% of the questions.
  best_guess = sum(counts.most_common(1)[0][1] for counts in by_text.values())
  assert best_guess / len(pairs) <= 0.6, best_guess / len(pairs)
  for text, counts in by_text.items():
    if sum(counts.values()) >= 20:
      assert counts.most_common(1)[0][1] <= 0.65 * sum(counts.values()), (
          text, counts)


def test_same_seed_gives_identical_bytes(tmp_path):
  config = dataclasses.replace(LARGE, images_per_split=5)
  for name in ('a', 'b'):
    sample_data.generate(str(tmp_path / name), config)
  assert (sample_files.file_bytes(tmp_path / 'a') ==
          sample_files.file_bytes(tmp_path / 'b'))


def test_cli_kind_glyphs_output_preprocesses_with_its_answers(tmp_path):
  raw, records = tmp_path / 'raw', tmp_path / 'records'
  assert cli.main(['sample-data', '--output', str(raw), '--kind', 'glyphs',
                   '--images-per-split', '40', '--splits', 'train2014',
                   '--seed', '2']) == 0
  assert cli.main(['preprocess', '--data-dir', str(raw), '--output',
                   str(records), '--splits', 'train2014', '--image-size', '96',
                   '--num-shards', '1', '--top-answers', '9',
                   '--direct_running_mode=in_memory']) == 0
  answers = json.loads((records / 'answers.json').read_text())['answers']
  assert set(answers) == set(sample_glyphs.ANSWERS)
  counts = json.loads((records / 'metadata.json').read_text())['counts']
  questions, _ = sample_files.load_split(raw, 'train2014')
  assert counts['train2014']['written'] == len(questions['questions'])
