"""Elements lost between two steps fail the run, naming the step; so does a
labelled split whose questions mostly lack annotations; and the Beam options
that lose elements on Beam 2.77 are refused before any work."""
import os

import apache_beam as beam
import pytest

from beam_pipelines import accounting
from beam_pipelines import preprocess
from beam_pipelines import preprocess_checks
from tests.beam_pipelines import image_files
from tests.beam_pipelines import vqa_files
from trainer.app import cli
from trainer.contract import record_spec

IN_MEMORY = ['--direct_running_mode=in_memory']
SPLITS = ('train2014', 'val2014')
DROPPED = []  # What the test-only step dropped (in memory: one process).
SEEN = []  # What it was handed.


def _write_split(data_dir, split, num_questions, num_annotated):
  first = 1000 if split == 'train2014' else 2000
  questions = [vqa_files.question(first + i, first + i % 3, f'Is {i} red?')
               for i in range(num_questions)]
  annotations = [vqa_files.annotation(first + i, first + i % 3,
                                      [('yes', 'no')[i % 2]] * 10, 'yes/no')
                 for i in range(num_annotated)]
  images = {first + i: image_files.rgb_jpeg() for i in range(3)}
  vqa_files.write_split(str(data_dir), split, questions, annotations, images)


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  directory = tmp_path_factory.mktemp('vqa')
  _write_split(directory, 'train2014', 12, 12)
  _write_split(directory, 'val2014', 10, 10)
  return directory


def _config(data_dir, output, **overrides):
  values = dict(data_dir=str(data_dir), output=str(output), splits=SPLITS,
                top_answers=2, max_question_tokens=8, image_size=16,
                num_shards=2)
  values.update(overrides)
  return preprocess.PreprocessConfig(**values)


def _drop_some(element):
  """Drops every other element, the first one included: at least one is
  lost on every edge hit, whatever the elements hold (shard reports name
  temporary paths, so a hash of them would vary between runs)."""
  SEEN.append(element)
  if len(SEEN) % 2 == 0:
    return True
  DROPPED.append(element)
  return False


def _losing(split_to_hit, edge_to_hit):
  """A between_steps seam that loses elements on one edge."""
  def between_steps(split, edge, elements):
    if (split, edge) != (split_to_hit, edge_to_hit):
      return elements
    return elements | f'TestOnlyLose[{split}/{edge}]' >> beam.Filter(_drop_some)
  return between_steps


@pytest.fixture(scope='module')
def clean_run(data_dir, tmp_path_factory):
  return preprocess.run_preprocess(
      _config(data_dir, tmp_path_factory.mktemp('clean')), IN_MEMORY)


def test_a_clean_run_adds_up(clean_run):
  metadata, counters = clean_run
  assert accounting.find_losses(metadata.counts, counters, 2, 'train2014',
                                SPLITS) == []
  val = metadata.counts['val2014']
  assert val['written'] == 10
  assert val['events'][accounting.ANNOTATIONS_READ] == 10
  assert val['events'][accounting.ANNOTATIONS_JOINED] == 10
  assert val['events'][accounting.RECORDS_IN_SHARDS] == 10
  assert counters['flow/val2014/tokenized/received'] == 10


@pytest.mark.parametrize('split, edge, step_named', [
    ('val2014', accounting.QUESTIONS_EDGE, 'JoinAnnotations received'),
    ('val2014', accounting.JOINED_EDGE, 'AssignLabels received'),
    ('train2014', accounting.LABELLED_EDGE, 'Tokenize received'),
    ('val2014', accounting.TOKENIZED_EDGE, 'WriteShards received'),
    ('train2014', accounting.VOCABULARY_RECORDS_EDGE,
     'BuildVocabulary received'),
    ('val2014', accounting.SHARDS_EDGE, 'WriteShards reported'),
    (None, accounting.OUTCOMES_EDGE, 'CountOutcomes received'),
])
def test_elements_lost_between_two_steps_fail_the_run_naming_the_step(
    data_dir, tmp_path, split, edge, step_named):
  DROPPED.clear()
  SEEN.clear()
  with pytest.raises(accounting.AccountingError) as error:
    preprocess.run_preprocess(_config(data_dir, tmp_path), IN_MEMORY,
                              between_steps=_losing(split, edge))
  assert DROPPED, 'the test-only step dropped nothing'
  assert step_named in str(error.value)
  assert 'lost between steps' in str(error.value)
  # `vqa train` finds no metadata.json, as after a killed run.
  assert not os.path.exists(record_spec.metadata_path(str(tmp_path)))
  assert os.path.exists(os.path.join(str(tmp_path), 'metadata.failed.json'))


@pytest.mark.parametrize('edge, step_named', [
    (accounting.QUESTIONS_FILE_EDGE, 'ReadQuestions received 0 of the 1 '
     'questions file'),
    (accounting.ANNOTATIONS_FILE_EDGE, 'ReadAnnotations received 0 of the 1 '
     'annotations file'),
])
def test_an_input_file_path_lost_before_it_is_read_is_named(clean_run, edge,
                                                            step_named):
  """Beam dropping the one-path bundle would otherwise read as an empty file
  (a whole split gone, or every question missing its annotation)."""
  metadata, counters = clean_run
  counters = dict(counters)
  counters[accounting.flow_counter('val2014', edge, 'received')] = 0
  problems = accounting.find_losses(metadata.counts, counters, 2, 'train2014',
                                    SPLITS)
  assert [p for p in problems if step_named in p] == [
      f'val2014: {step_named} path(s) the pipeline listed']


def test_a_run_that_wrote_no_metadata_fails_naming_the_step(tmp_path):
  with pytest.raises(accounting.AccountingError,
                     match='WriteMetadata wrote no .*metadata.json'):
    preprocess_checks.check_metadata_written(_config('', tmp_path))


def test_lost_annotations_are_not_reported_as_missing(data_dir, tmp_path):
  DROPPED.clear()
  SEEN.clear()
  with pytest.raises(accounting.AccountingError) as error:
    preprocess.run_preprocess(
        _config(data_dir, tmp_path, allow_missing_annotations=True), IN_MEMORY,
        between_steps=_losing('val2014', accounting.ANNOTATIONS_EDGE))
  assert DROPPED
  message = str(error.value)
  assert (f'JoinAnnotations received {10 - len(DROPPED)} of the 10 keyed '
          'annotations that ReadAnnotations sent') in message
  assert not os.path.exists(record_spec.metadata_path(str(tmp_path)))


def test_a_labelled_split_mostly_without_annotations_fails_naming_files(
    tmp_path):
  data_dir = tmp_path / 'data'
  _write_split(data_dir, 'train2014', 12, 12)
  _write_split(data_dir, 'val2014', 10, 8)  # 2 of 10 without annotation
  config = _config(data_dir, tmp_path / 'out')
  with pytest.raises(accounting.AccountingError) as error:
    preprocess.run_preprocess(config, IN_MEMORY)
  message = str(error.value)
  assert 'val2014: 2 of 10 questions (20.0%) have no annotation' in message
  assert config.annotations_path('val2014') in message
  assert config.questions_path('val2014') in message
  assert '--allow-missing-annotations' in message

  metadata, _ = preprocess.run_preprocess(
      _config(data_dir, tmp_path / 'out', overwrite=True,
              allow_missing_annotations=True), IN_MEMORY)
  assert metadata.counts['val2014']['rejected'] == {
      accounting.MISSING_ANNOTATION: 2}


@pytest.mark.parametrize('beam_args, refused', [
    (['--direct_running_mode=multi_threading'], 'multi_threading is refused'),
    (['--direct_running_mode', 'multi_threading'], 'multi_threading is refused'),
    (['--experiments=data_buffer_time_limit_ms=100'], '=100 is refused'),
    (['--experiments', 'use_runner_v2,data_buffer_time_limit_ms=5'],
     '=5 is refused'),
    (['--experiment=data_buffer_time_limit_ms=1000'], '=1000 is refused'),
])
def test_options_that_lose_elements_on_beam_2_77_are_refused(beam_args,
                                                             refused):
  with pytest.raises(preprocess_checks.ConfigError) as error:
    preprocess_checks.check_beam_args(beam_args, beam_version='2.77.0')
  assert refused in str(error.value)
  assert "time-based data-buffer flush" in str(error.value)


@pytest.mark.parametrize('beam_args, version', [
    (['--direct_running_mode=in_memory'], '2.77.0'),
    (['--direct_running_mode=multi_processing', '--direct_num_workers=2'],
     '2.77.0'),
    (['--experiments=data_buffer_time_limit_ms=0'], '2.77.0'),
    (['--direct_running_mode=multi_threading'], '2.99.0'),
])
def test_other_options_and_versions_are_accepted(beam_args, version):
  preprocess_checks.check_beam_args(beam_args, beam_version=version)


def test_vqa_preprocess_refuses_multi_threading_in_one_line(
    data_dir, tmp_path, capsys):
  code = cli.main(['preprocess', '--data-dir', str(data_dir), '--output',
                   str(tmp_path / 'out'), '--direct_running_mode',
                   'multi_threading'])
  err = capsys.readouterr().err
  assert code == 2
  assert err.strip().splitlines() == [
      'vqa preprocess: error: --direct_running_mode=multi_threading is '
      "refused: Beam 2.77.0's time-based data-buffer flush drops elements "
      'written while it flushes (records lost with exit status 0; '
      'benchmarks/beam_flush_race.py); use in_memory (the default) or '
      'multi_processing']
  assert not os.path.exists(tmp_path / 'out')
