"""One config mechanism: flags from the config dataclasses, --config FILE,
presets, the resolved config written, one parser per subcommand."""
import dataclasses
import json
import pathlib

import pytest

from trainer.app import cli
from trainer.app import commands
from trainer.app import flags
from trainer.app import presets
from trainer.fit import train
from trainer.models import multimodal

REPO = pathlib.Path(__file__).resolve().parents[3]


def test_flags_override_the_file_which_overrides_the_defaults(tmp_path):
  path = tmp_path / 'train.json'
  path.write_text(json.dumps({'epochs': 3, 'batch_size': 8,
                              'model': {'fusion_width': 24, 'dropout': 0.1}}))
  config = cli.job_config('train', ['--data', 'd/', '--output', 'o',
                                    '--config', str(path), '--epochs', '5',
                                    '--dropout', '0.2'])
  assert (config.epochs, config.batch_size) == (5, 8)
  assert (config.model.fusion_width, config.model.dropout) == (24, 0.2)
  assert config.model.hidden_width == multimodal.ModelConfig().hidden_width
  assert config.learning_rate == train.TrainConfig().learning_rate
  assert config.data == 'd'


def test_nested_fields_keep_their_flag_names():
  config = cli.job_config('train', [
      '--data', 'd', '--output', 'o', '--architecture', 'question-only',
      '--image-frozen', '--image-weights', 'w.h5', '--image-augment'])
  assert config.model.kind == 'question-only'
  assert config.model.image_trainable is False
  assert config.model.image_augment == 'flip'
  student = cli.job_config('distill', ['--data', 'd', '--output', 'o',
                                       '--image-filters', '4', '8',
                                       '--text-layer', 'lstm'])
  assert student.student.image_filters == (4, 8)
  assert student.student.text_layer == 'lstm'


def test_unknown_keys_in_the_file_are_named_with_the_file(tmp_path):
  path = tmp_path / 'distill.json'
  path.write_text(json.dumps({'alpha': 0.3, 'epoch': 2,
                              'student': {'width': 8}}))
  with pytest.raises(ValueError) as error:
    cli.job_config('distill', ['--data', 'd', '--output', 'o',
                               '--config', str(path)])
  message = str(error.value)
  assert str(path) in message
  assert "'epoch'" in message and "'student.width'" in message


def test_a_missing_required_field_is_an_error_of_the_job(capsys):
  assert cli.main(['evaluate', '--data', 'd']) == 2
  assert capsys.readouterr().err.startswith(
      'vqa evaluate: error: missing --model (required')


def test_every_missing_required_flag_is_named_at_once(capsys):
  assert cli.main(['report', '--split', 'val2014']) == 2
  assert capsys.readouterr().err == (
      'vqa report: error: missing --data, --models, --output (required, on '
      'the command line or in --config FILE)\n')


def test_the_file_can_give_what_the_command_line_leaves_out(tmp_path):
  path = tmp_path / 'report.json'
  path.write_text(json.dumps({'data': 'd', 'output': 'r',
                              'models': [['a', 'x'], ['b', 'y']]}))
  config = cli.job_config('report', ['--config', str(path)])
  assert config.models == (('a', 'x'), ('b', 'y'))


def test_a_preset_lies_under_the_file_and_the_flags():
  config = cli.job_config('train', ['--preset', 'tiny', '--data', 'd',
                                    '--output', 'o', '--epochs', '2'])
  assert config.epochs == 2
  assert config.model.text_encoder == 'tiny'
  assert config == presets.job_config('tiny', 'train', train.TrainConfig,
                                      data='d', output='o', epochs=2)


def test_the_resolved_config_is_written_and_reads_back(tmp_path, capsys):
  out_dir = tmp_path / 'raw'
  assert cli.main(['sample-data', '--output', str(out_dir), '--images-per-split', '2',
                   '--image-size', '32', '--splits', 'val2014']) == 0
  capsys.readouterr()
  written = out_dir / 'sample_data_config.json'
  recorded = json.loads(written.read_text())
  assert recorded['splits'] == ['val2014']
  assert recorded['questions_per_image'] == 5  # a default, filled in
  again = cli.job_config('sample-data', ['--config', str(written)])
  assert dataclasses.asdict(again) == recorded | {'splits': ('val2014',)}


def test_write_config_round_trips_nested_configs(tmp_path):
  config = presets.job_config('tiny', 'train', train.TrainConfig, data='d',
                              output='o')
  path = flags.write_config(config, str(tmp_path / 'c.json'))
  parser = flags.build_parser('vqa train', train.TrainConfig)
  assert flags.build_config(train.TrainConfig,
                            parser.parse_args(['--config', path])) == config


@pytest.mark.parametrize('name', [*commands.JOBS, 'tune distill',
                                  'tune prune'])
def test_every_subcommand_has_help(name, capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.main([*name.split(), '--help'])
  assert exit_info.value.code == 0
  out = capsys.readouterr().out
  assert out.startswith(f'usage: vqa {name}')
  if not name.startswith('tune'):
    assert '--config FILE' in out


def _sources(*packages):
  for package in packages:
    yield from (REPO / package).rglob('*.py')


def test_only_the_app_parses_command_lines():
  for path in _sources('trainer', 'beam_pipelines', 'tuning'):
    if path.parent.name == 'app':
      continue
    text = path.read_text()
    assert 'import argparse' not in text, path
    assert 'def main(' not in text, path


def test_data_and_tuning_packages_do_not_import_the_app():
  for path in _sources('beam_pipelines', 'tuning'):
    assert 'trainer.app' not in path.read_text(), path
