"""The command line as a newcomer meets it: one meaning per flag name, every
mistake refused by name, usage that shows what is required, --help without
TensorFlow, and modules that point to the command."""
import argparse
import io
import runpy
import subprocess
import sys

import pytest

from trainer.app import cli
from trainer.app import commands
from trainer.app import flags
from trainer.app import tune
from trainer.fit import fit_config
from trainer.fit import fit_setup
from trainer.serve import tflite_modes

JOBS = tuple(commands.JOBS)


def _parser(name):
  return cli.job_parser(name, commands.JOBS[name][0]())


def _tune_parsers():
  return {f'tune {kind}': sub for kind, sub in
          tune.kind_parsers(tune.build_parser()).items()}


def _all_parsers():
  parsers = {name: _parser(name) for name in JOBS}
  parsers.update(_tune_parsers())
  return parsers


def _meaning(action):
  """What a flag takes: its type and its placeholder (None for switches)."""
  kind = getattr(action.type, '__name__', action.type)
  return (kind, action.metavar, bool(action.choices))


def meanings(parsers):
  """{flag: {meaning: [jobs]}} over every shown (not deprecated) flag."""
  found = {}
  for job, parser in parsers.items():
    for action in parser._actions:  # pylint: disable=protected-access
      if action.help == argparse.SUPPRESS or isinstance(
          action, argparse._HelpAction):  # pylint: disable=protected-access
        continue
      for name in action.option_strings:
        found.setdefault(name, {}).setdefault(_meaning(action), []).append(job)
  return found


def test_every_flag_name_has_one_meaning_in_every_job():
  twice = {name: by_meaning for name, by_meaning in
           meanings(_all_parsers()).items() if len(by_meaning) > 1}
  assert not twice


def test_the_vocabulary_check_sees_a_name_with_two_meanings():
  """Breaks the rule on purpose: a count named like train's --output."""
  count = argparse.ArgumentParser()
  count.add_argument('--output', type=int, metavar='N')
  parsers = {'train': _parser('train'), 'counter': count}
  assert len(meanings(parsers)['--output']) == 2


@pytest.mark.parametrize('name', ['prune', 'export-tflite', 'predict',
                                  'evaluate'])
def test_model_is_a_trained_model_folder_everywhere(name):
  action = next(action for action in _parser(name)._actions  # pylint: disable=protected-access
                if '--model' in action.option_strings)
  assert action.metavar == 'MODEL_DIR'


@pytest.mark.parametrize('name', JOBS)
def test_a_mistyped_flag_is_refused_with_the_closest_one(name, capsys):
  shown = flags.option_names(_parser(name))
  real = next(flag for flag in shown if flag.startswith('--') and
              len(flag) > 6 and flag not in ('--help', '--config'))
  typo = real[:-1] + ('x' if real[-1] != 'x' else 'y')
  assert cli.main([name, typo, '1']) == 2
  err = capsys.readouterr().err.splitlines()[-1]
  assert err.startswith(f'vqa {name}: error: unknown flag {typo}; did you '
                        'mean --')
  suggested = err.split('did you mean ')[1].split('?')[0]
  assert suggested in shown


def test_top_answers_typo_in_preprocess(capsys, tmp_path):
  assert cli.main(['preprocess', '--data-dir', str(tmp_path), '--output',
                   str(tmp_path / 'out'), '--top-answer', '12']) == 2
  assert capsys.readouterr().err == (
      'vqa preprocess: error: unknown flag --top-answer; did you mean '
      '--top-answers?\n')
  assert not (tmp_path / 'out').exists()


def test_beam_options_pass_and_beam_typos_are_refused(capsys):
  job = commands.JOBS['preprocess'][0]()
  _, passed = cli.parse_job('preprocess', job, [
      '--output', 'o', '--runner', 'DirectRunner', '--direct_running_mode',
      'in_memory', '--direct_num_workers=1'])
  assert passed == ['--runner', 'DirectRunner', '--direct_running_mode',
                    'in_memory', '--direct_num_workers=1']
  with pytest.raises(flags.UnknownFlag, match='did you mean --direct_num_workers'):
    cli.parse_job('preprocess', job, ['--output', 'o',
                                      '--direct_num_worker=2'])


def test_a_typo_in_a_sweep_names_the_trainer_flag(capsys, tmp_path):
  assert cli.main(['tune', 'distill', '--teacher', 't', '--data', 'd',
                   '--output', str(tmp_path), '--tempreature', '3']) == 2
  assert 'unknown flag --tempreature; did you mean --temperature?' in (
      capsys.readouterr().err)


def test_an_unknown_subcommand_is_refused_with_the_closest(capsys):
  assert cli.main(['trian']) == 2
  assert "did you mean train?" in capsys.readouterr().err


def test_deprecated_names_still_work_with_a_note(capsys):
  config = cli.job_config('train', ['--data', 'd', '--output', 'o',
                                    '--model', 'question-only'])
  assert config.model.kind == 'question-only'
  assert ('vqa train: note: --model is deprecated; use --architecture'
          in capsys.readouterr().err)
  config = cli.job_config('evaluate', ['--model', 'm', '--data', 'd',
                                       '--output', 'x.json'])
  assert config.metrics_path == 'x.json'
  config = cli.job_config('sample-data', ['old_dir'])
  assert config.out_dir == 'old_dir'
  assert 'use --output' in capsys.readouterr().err


@pytest.mark.parametrize('argv', [['--output', 'new_dir', 'old_dir'],
                                  ['old_dir', '--output', 'new_dir']])
def test_the_old_positional_next_to_its_flag_is_refused(argv, tmp_path,
                                                        monkeypatch, capsys):
  monkeypatch.chdir(tmp_path)
  assert cli.main(['sample-data', *argv, '--images-per-split', '1',
                   '--splits', 'val2014']) == 2
  err = capsys.readouterr().err
  assert ('--output new_dir and the positional old_dir both give --output'
          in err)
  assert not list(tmp_path.iterdir())  # nothing written, in either folder


def test_deprecated_names_are_not_shown():
  help_text = _parser('train').format_help()
  assert '--architecture' in help_text and '--model' not in help_text


# predict needs --model or --tflite, which its check() says.
@pytest.mark.parametrize('name', ['preprocess', 'train', 'report',
                                  'evaluate', 'sample-data'])
def test_usage_shows_required_flags_without_brackets(name):
  parser = _parser(name)
  usage = ' '.join(parser.format_usage().split()) + ' '
  needed = [action for action in parser._actions  # pylint: disable=protected-access
            if getattr(action, 'needed', False)]
  assert needed
  for action in needed:
    flag = action.option_strings[0]
    assert f'[{flag} ' not in usage and f' {flag} ' in usage
  assert flags.REQUIRED_GROUP in parser.format_help()
  # argparse itself still lets --config FILE give them.
  assert not any(action.required for action in needed)


@pytest.mark.parametrize('name,has_preset', [
    ('train', True), ('preprocess', True), ('report', True),
    ('evaluate', False), ('predict', False), ('serve', False),
    ('export-tflite', False)])
def test_preset_only_where_it_changes_something(name, has_preset):
  assert ('--preset' in flags.option_names(_parser(name))) == has_preset


def test_version(capsys):
  assert cli.main(['--version']) == 0
  assert capsys.readouterr().out.startswith('vqa ')


def test_help_imports_neither_tensorflow_nor_beam():
  """What keeps `vqa JOB --help` under a second: no heavy import."""
  code = ('import sys\n'
          'from trainer.app import cli, commands, reference_docs\n'
          'reference_docs.cli_page()\n'
          'heavy = ("tensorflow", "apache_beam", "ray", "tf_keras")\n'
          'print(sorted({m.split(".")[0] for m in sys.modules} & set(heavy)))')
  out = subprocess.run([sys.executable, '-c', code], check=True,
                       capture_output=True, text=True).stdout
  assert out.strip() == '[]'


def test_a_user_error_is_one_line_and_a_bug_keeps_its_traceback(capsys):
  def user_mistake():
    raise flags.UnknownFlag('unknown flag --x')
  assert cli.reporting_errors('train', user_mistake) == 2
  assert capsys.readouterr().err == 'vqa train: error: unknown flag --x\n'

  def bug():
    raise ValueError('an internal invariant')
  with pytest.raises(ValueError, match='internal invariant'):
    cli.reporting_errors('train', bug)


def test_traceback_of_a_user_error_on_request(capsys, monkeypatch):
  monkeypatch.setenv(cli.TRACEBACK_VARIABLE, '1')

  def user_mistake():
    raise flags.UnknownFlag('unknown flag --x')
  assert cli.reporting_errors('train', user_mistake) == 2
  err = capsys.readouterr().err
  assert 'Traceback (most recent call last)' in err
  assert err.endswith('vqa train: error: unknown flag --x\n')


MODULES = {
    'beam_pipelines.sample_data': 'sample-data',
    'trainer.fit.train': 'train', 'trainer.fit.distill': 'distill',
    'trainer.fit.prune': 'prune', 'trainer.measure.evaluate': 'evaluate',
    'trainer.measure.tflite_evaluation': 'export-tflite',
    'trainer.measure.report': 'report', 'trainer.serve.predict': 'predict',
    'trainer.serve.web': 'serve', 'trainer.app.demo': 'demo',
}


@pytest.mark.filterwarnings('ignore::RuntimeWarning')  # runpy: module already imported
@pytest.mark.parametrize('module,job', sorted(MODULES.items()))
def test_a_job_module_run_directly_points_to_the_command(module, job, capsys):
  with pytest.raises(SystemExit) as exit_info:
    runpy.run_module(module, run_name='__main__')
  assert exit_info.value.code == 2
  assert f'run `vqa {job}`' in capsys.readouterr().err


def test_python_m_preprocess_points_to_the_command(tmp_path):
  done = subprocess.run(
      [sys.executable, '-m', 'beam_pipelines.preprocess', '--data-dir',
       str(tmp_path), '--output', str(tmp_path / 'out')],
      capture_output=True, text=True, check=False)
  assert done.returncode == 2
  assert 'run `vqa preprocess`' in done.stderr


def test_keras_output_is_a_line_per_epoch_unless_on_a_terminal():
  class Terminal(io.StringIO):
    def isatty(self):
      return True
  config = fit_config.FitConfig()
  assert config.verbose == -1
  assert fit_setup.keras_verbose(config, io.StringIO()) == 2
  assert fit_setup.keras_verbose(config, Terminal()) == 1
  import dataclasses  # pylint: disable=g-import-not-at-top
  assert fit_setup.keras_verbose(dataclasses.replace(config, verbose=0)) == 0


def test_light_copies_of_choices_match_the_code():
  from trainer.data import targets  # pylint: disable=g-import-not-at-top
  from trainer.serve import tflite_export  # pylint: disable=g-import-not-at-top
  assert set(fit_config.LOSSES) == set(targets.LOSSES)
  assert tflite_export.QUANTIZE_MODES == tflite_modes.QUANTIZE_MODES
