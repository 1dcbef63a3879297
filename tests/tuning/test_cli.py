"""`vqa tune`: flags, the trainer's own flags passed through, a real run."""
import json
import os
import subprocess
import sys

import pytest

from trainer.app import commands
from trainer.app import tune
from trainer.models import student as student_lib

TINY_STUDENT_FLAGS = ['--embedding-dim', '8', '--text-width', '8',
                      '--image-filters', '8', '8', '--fusion-width', '8',
                      '--hidden-width', '8']


def _configs(argv):
  """(SweepOptions, the trainer's base config) of `vqa tune ARGV`."""
  args, rest = tune.build_parser().parse_known_args(argv)
  return tune.sweep_configs(args, rest, commands.JOBS[args.kind][0]())


def test_trainer_flags_pass_through_to_the_trainer_config():
  options, base = _configs(['distill', '--teacher', 't', '--data', 'd/',
                             '--output', 'sweep', '--num-samples', '5',
                             '--max-epochs', '3', '--search', 'random',
                             '--gpus-per-trial', '0.25', '--batch-size', '32',
                             '--alpha', '0.2'] + TINY_STUDENT_FLAGS)
  assert (options.num_samples, options.max_epochs) == (5, 3)
  assert (options.search, options.gpus_per_trial) == ('random', 0.25)
  assert options.dashboard_host == '127.0.0.1'
  assert (base.teacher, base.data, base.batch_size) == ('t', 'd', 32)
  assert base.alpha == 0.2  # the hand-picked point tried first
  assert base.student.image_filters == (8, 8)
  assert base.student.text_layer == student_lib.StudentConfig().text_layer


def test_prune_takes_the_model_and_its_own_flags():
  options, base = _configs(['prune', '--model', 'm', '--data', 'd',
                             '--output', 'sweep', '--schedule', 'constant',
                             '--accuracy-tolerance', '0.05'])
  assert (base.model_dir, base.schedule) == ('m', 'constant')
  assert options.accuracy_tolerance == 0.05


def test_epochs_is_refused_in_favour_of_max_epochs():
  with pytest.raises(ValueError, match='--max-epochs'):
    _configs(['distill', '--teacher', 't', '--data', 'd', '--output', 'o',
              '--epochs', '3'])


@pytest.mark.slow
def test_a_sweep_joins_an_existing_ray_cluster(ray_context, tiny_records,
                                               tiny_teacher, tmp_path):
  """The command in a new process, on the tests' Ray as the 'cluster'."""
  output = tmp_path / 'sweep'
  command = [sys.executable, '-m', 'trainer.app.cli', 'tune', 'distill',
             '--teacher', tiny_teacher, '--data', tiny_records,
             '--output', str(output),
             '--address', ray_context.address_info['address'],
             '--num-samples', '2', '--max-epochs', '1', '--search', 'random',
             '--tune-verbose', '0', '--batch-size', '16',
             '--steps-per-epoch', '1', '--validation-steps', '1',
             ] + TINY_STUDENT_FLAGS
  completed = subprocess.run(command, capture_output=True, text=True,
                             timeout=600, check=False,
                             cwd=os.path.dirname(os.path.dirname(
                                 os.path.dirname(__file__))))
  assert completed.returncode == 0, completed.stderr[-3000:]
  assert 'train it: vqa distill --config' in completed.stdout
  with open(output / 'best_config.json') as f:
    best = json.load(f)
  assert best['student']['text_width'] == 8
  assert best['teacher'] == tiny_teacher
  assert (output / 'results.md').exists()
  with open(output / tune.CONFIG_FILE) as f:
    recorded = json.load(f)
  assert recorded['sweep']['num_samples'] == 2
  assert recorded['base']['student']['text_width'] == 8
