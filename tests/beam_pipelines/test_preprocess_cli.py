"""`vqa preprocess` on bad command lines and malformed files: fail fast, name
the file and the problem."""
import os

import pytest

from beam_pipelines import layout
from beam_pipelines import preprocess
from tests.beam_pipelines import image_files
from tests.beam_pipelines import vqa_files
from trainer.app import cli

IN_MEMORY = '--direct_running_mode=in_memory'


def write_tiny_split(data_dir, split='train2014'):
  vqa_files.write_split(
      str(data_dir), split, [vqa_files.question(1, 1, 'Is it red?')],
      [vqa_files.annotation(1, 1, ['yes'] * 10, 'yes/no')],
      {1: image_files.rgb_jpeg()})


def run_cli(capsys, *args):
  code = cli.main(['preprocess', *args])
  captured = capsys.readouterr()
  return code, captured.out, captured.err


def base_args(data_dir, output):
  return ['--data-dir', str(data_dir), '--output', str(output),
          '--splits', 'train2014', '--image-size', '16', '--num-shards', '1',
          IN_MEMORY]


@pytest.mark.parametrize('filename, content, message', [
    (layout.questions_filename('train2014'), '{"questions": [1, 2,',
     'not valid JSON'),
    (layout.annotations_filename('train2014'), '{"info": {}, "questions": []}',
     'expected a JSON object with a "annotations" list'),
    (layout.questions_filename('train2014'), '[1, 2]', 'found list'),
])
def test_malformed_file_fails_naming_the_file_and_problem(
    tmp_path, capsys, filename, content, message):
  write_tiny_split(tmp_path)
  path = tmp_path / filename
  path.write_text(content)
  code, _, err = run_cli(capsys, *base_args(tmp_path, tmp_path / 'out'))
  assert code == 2
  assert str(path) in err and message in err


def test_missing_annotations_file_fails_before_running(tmp_path, capsys):
  write_tiny_split(tmp_path)
  os.remove(tmp_path / layout.annotations_filename('train2014'))
  code, _, err = run_cli(capsys, *base_args(tmp_path, tmp_path / 'out'))
  assert code == 2
  assert layout.annotations_filename('train2014') in err
  assert 'unlabelled-splits' in err


@pytest.mark.parametrize('extra, message', [
    (['--num-shards', '0'], '--num-shards must be >= 1'),
    (['--image-pattern', '{image}.jpg'], '--image-pattern'),
    (['--questions', 'no-equals-sign'], 'expected SPLIT=PATH'),
    (['--splits', 'a,a'], 'distinct'),
])
def test_bad_options_are_explained(tmp_path, capsys, extra, message):
  write_tiny_split(tmp_path)
  code, _, err = run_cli(capsys, *base_args(tmp_path, tmp_path / 'out'),
                         *extra)
  assert code == 2
  assert message in err


def test_existing_output_needs_overwrite(tmp_path, capsys):
  write_tiny_split(tmp_path)
  args = base_args(tmp_path, tmp_path / 'out')
  code, out, _ = run_cli(capsys, *args)
  assert code == 0
  assert 'train2014: 1 questions read, 1 written' in out
  code, _, err = run_cli(capsys, *args)
  assert code == 2 and '--overwrite' in err
  # A smaller shard count must not leave the old shards behind.
  stale = tmp_path / 'out' / 'train2014' / 'part-00001-of-00002.tfrecord.gz'
  stale.write_bytes(b'')
  code, _, _ = run_cli(capsys, *args, '--overwrite')
  assert code == 0
  assert sorted(os.listdir(tmp_path / 'out' / 'train2014')) == [
      'part-00000-of-00001.tfrecord.gz']


def test_reused_vocabulary_and_per_split_overrides(tmp_path, capsys):
  write_tiny_split(tmp_path / 'first')
  code, _, _ = run_cli(capsys, *base_args(tmp_path / 'first',
                                          tmp_path / 'out1'))
  assert code == 0
  other = tmp_path / 'elsewhere'
  write_tiny_split(other, 'val2014')
  config = cli.job_config('preprocess', [
      '--output', str(tmp_path / 'out2'), '--splits', 'val2014',
      '--answers', str(tmp_path / 'out1' / 'answers.json'),
      '--questions', f'val2014={other / layout.questions_filename("val2014")}',
      '--annotations',
      f'val2014={other / layout.annotations_filename("val2014")}',
      '--image-dir', f'val2014={other / "val2014"}', '--image-size', '16',
      '--num-shards', '1'])
  metadata = preprocess.run_preprocess(config, [IN_MEMORY])[0].to_json()
  assert metadata['counts']['val2014']['written'] == 1
  assert metadata['answers']['source_split'].endswith('answers.json')


def test_help_renders_every_flag(capsys):
  """argparse expands '%' in help texts: one stray sign breaks --help."""
  with pytest.raises(SystemExit) as exit_info:
    cli.main(['preprocess', '--help'])
  assert exit_info.value.code == 0
  out = capsys.readouterr().out
  assert '--allow-missing-annotations' in out
  assert '5 per cent' in out
