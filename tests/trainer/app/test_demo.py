"""`vqa demo` runs every stage on tiny sample data and times each one."""
import dataclasses
import os
import shlex

import pytest

from trainer.app import cli
from trainer.contract import dataset_info
from trainer.app import demo


def test_demo_trains_evaluates_and_predicts(tmp_path, monkeypatch):
  monkeypatch.setattr(demo, 'STAGES', demo.STAGES[:6])
  config = dataclasses.replace(demo.DemoConfig(), output=str(tmp_path / 'd'),
                               images_per_split=12, preset='tiny')
  timings = demo.run_demo(config)
  assert [name for name, _ in timings][-1] == 'predict'
  assert os.path.exists(os.path.join(config.output, 'teacher', 'export',
                                     'saved_model.pb'))
  assert os.path.exists(os.path.join(config.output, 'question_only',
                                     'config.json'))


@pytest.mark.slow  # ~4 minutes: every stage, Ray included
def test_demo_runs_every_stage_and_writes_the_records(tmp_path):
  config = dataclasses.replace(demo.DemoConfig(), output=str(tmp_path / 'd'),
                               images_per_split=12, preset='tiny',
                               sweep_trials=2, sweep_epochs=1)
  timings = demo.run_demo(config)
  assert [name for name, _ in timings] == [name for name, _ in demo.STAGES]
  assert all(seconds > 0 for _, seconds in timings)
  records = os.path.join(config.output, 'tfrecords')
  answers = dataset_info.read_answers(records).answers
  metadata = dataset_info.read_metadata(records).to_json()
  assert 'yes' in answers
  assert metadata['counts']['val2014']['written'] > 0
  for model_dir in ('teacher', 'question_only'):
    assert os.path.exists(os.path.join(config.output, model_dir,
                                       'config.json'))
  assert os.path.exists(os.path.join(config.output, 'teacher', 'export',
                                     'saved_model.pb'))
  assert os.path.exists(os.path.join(config.output, 'teacher',
                                     'results-val2014.json'))
  for model_dir in ('student', 'student_alone', 'student_pruned'):
    assert os.path.exists(os.path.join(config.output, model_dir, 'export',
                                       'saved_model.pb'))
  for model_dir in ('student', 'student_pruned'):
    assert os.path.exists(os.path.join(config.output, model_dir, 'tflite',
                                       'model-int8.tflite'))
    assert os.path.exists(os.path.join(config.output, model_dir, 'tflite',
                                       'bundle-int8', 'bundle.json'))
    # The compact vocabulary, carried over by pruning.
    assert os.path.exists(os.path.join(config.output, model_dir,
                                       'vocabulary.json'))
  with open(os.path.join(config.output, 'report', 'report.md')) as f:
    table = f.read()
  for name in ('teacher', 'student', 'student-alone', 'pruned',
               'student-int8', 'pruned-int8'):
    assert f'| {name} |' in table
  for kind in ('distill', 'prune'):
    assert os.path.exists(os.path.join(config.output, f'sweep_{kind}',
                                       'best_config.json'))
  assert os.path.exists(os.path.join(config.output, 'report', 'report.html'))
  for _, path in _served(demo.demo_paths(config.output)):
    assert os.path.exists(path if path.endswith('.tflite') else
                          os.path.join(path, 'export', 'saved_model.pb'))


def _served(paths):
  """The --models of the `vqa serve` command the demo prints, parsed."""
  lines = demo.next_steps(paths).splitlines()
  argv = shlex.split(' '.join(line.rstrip('\\') for line in lines[1:3]))
  assert argv[:2] == ['vqa', 'serve']
  config = cli.job_config('serve', argv[2:])
  assert config.data == paths['tfrecords']
  return config.models


def test_demo_ends_by_showing_how_to_serve_its_models_and_the_report():
  paths = demo.demo_paths('out')
  assert dict(_served(paths)) == {
      'teacher': paths['teacher'], 'student': paths['student'],
      'pruned': paths['pruned'],
      'pruned-int8': os.path.join(paths['pruned'], 'tflite',
                                  'model-int8.tflite')}
  assert demo.next_steps(paths).endswith(
      os.path.join('out', 'report', 'report.html'))


def test_a_second_demo_replaces_the_first(tmp_path, monkeypatch):
  monkeypatch.setattr(demo, 'STAGES', demo.STAGES[:2])
  config = dataclasses.replace(demo.DemoConfig(), output=str(tmp_path / 'd'),
                               images_per_split=6, preset='tiny')
  demo.run_demo(config)
  demo.run_demo(dataclasses.replace(config, images_per_split=3))
  metadata = dataset_info.read_metadata(
      os.path.join(config.output, 'tfrecords')).to_json()
  assert metadata['counts']['train2014']['questions'] <= 3 * 5


def test_demo_refuses_to_delete_a_folder_it_did_not_write(tmp_path):
  (tmp_path / 'precious.txt').write_text('keep me')
  with pytest.raises(SystemExit, match='not a demo output'):
    demo.run_demo(dataclasses.replace(demo.DemoConfig(), output=str(tmp_path)))
  assert (tmp_path / 'precious.txt').exists()
