"""`vqa report`: every model and column in md/json/csv, ratios consistent with
the raw figures, valid plots, the Pareto front, clear command-line errors."""
import csv
import html
import json
import os
import re
import shutil

import pytest

from trainer.app import cli
from trainer.models import model_io
from trainer.measure import measurements
from trainer.measure import pareto
from trainer.measure import plots
from trainer.measure import report
from trainer.measure import report_html
from trainer.measure import tables
from trainer.serve import tflite_export
from trainer.measure import tflite_evaluation

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
LATENCY_BATCHES = (1, 16)
MODELS = ['teacher', 'student', 'student-int8', 'loose-int8']


def test_pareto_front_keeps_ties_and_drops_dominated_points():
  points = [(1.0, 0.5),   # 0 front
            (2.0, 0.7),   # 1 front
            (2.0, 0.6),   # 2 same cost as 1, less accurate
            (3.0, 0.7),   # 3 as accurate as 1, costs more
            (4.0, 0.9),   # 4 front
            (4.0, 0.9),   # 5 equal to 4: kept too
            (5.0, 0.8),   # 6 dominated by 4
            (0.5, 0.2)]   # 7 front: the cheapest
  assert pareto.pareto_front(points) == [7, 0, 1, 4, 5]
  assert pareto.pareto_front([]) == []
  assert pareto.pareto_front([(3.0, 0.1)]) == [0]


def test_build_table_divides_by_the_baseline_row():
  row = lambda name, scale: {
      'model': name, 'file_bytes': 100 * scale, 'gzip_bytes': 50 * scale,
      'parameters': 10 * scale, 'nonzero_parameters': 8 * scale,
      'vqa_written': 0.5 * scale, 'vqa_kept': 0.6 * scale,
      'top1': 0.4 * scale, 'ms_per_example_b1': 2.0 * scale}
  table = tables.build_table([row('big', 2), row('small', 1)], 'small', (1,))
  big, small = table
  assert big['gzip_size_ratio'] == big['parameter_ratio'] == 2.0
  assert big['vqa_accuracy_ratio'] == pytest.approx(2.0)
  assert big['speedup_b1'] == 0.5  # twice as slow
  assert all(small[ratio.name] == 1.0 for ratio in tables.ratio_columns((1,)))


def test_build_table_leaves_missing_figures_missing():
  rows = [{'model': 'keras', 'parameters': 10, 'ms_per_example_b1': 1.0},
          {'model': 'tflite', 'parameters': None, 'ms_per_example_b1': 0.5}]
  rows = [dict({name: 1 for name in ('file_bytes', 'gzip_bytes',
                                      'nonzero_parameters', 'vqa_written',
                                      'vqa_kept', 'top1')}, **r) for r in rows]
  rows[1]['nonzero_parameters'] = None
  tflite = tables.build_table(rows, 'keras', (1,))[1]
  assert tflite['parameter_ratio'] is None
  assert tflite['speedup_b1'] == 2.0


@pytest.fixture(scope='module')
def student_with_tflite(tiny_records, tiny_student, tmp_path_factory):
  """A copy of the tiny student (the fixture is shared) with float and int8
  .tflite files in MODEL_DIR/tflite/, and a copy of the int8 file elsewhere."""
  model_dir = str(tmp_path_factory.mktemp('student_tflite') / 'model')
  shutil.copytree(tiny_student, model_dir)
  for quantize in ('none', 'int8'):
    tflite_evaluation.export_tflite(model_dir, tiny_records, quantize,
                                representative_examples=8)
  loose = os.path.join(os.path.dirname(model_dir), 'loose-int8.tflite')
  shutil.copy(tflite_export.tflite_path(model_dir, 'int8'), loose)
  return model_dir, loose


@pytest.fixture(scope='module')
def made_report(tiny_records, tiny_teacher, student_with_tflite,
                tmp_path_factory):
  student, loose = student_with_tflite
  output = str(tmp_path_factory.mktemp('report'))
  argv = ['--data', tiny_records, '--split', 'val2014', '--output', output,
          '--models', f'teacher={tiny_teacher}', f'student={student}',
          'student-int8=' + tflite_export.tflite_path(student, 'int8'),
          f'loose-int8={loose}', '--baseline', 'student',
          '--latency-repeats', '2',
          '--latency-batches', *map(str, LATENCY_BATCHES)]
  assert cli.main(['report', *argv]) == 0
  return output


def _json_report(output):
  with open(os.path.join(output, 'report.json')) as f:
    return json.load(f)


def test_report_files_hold_every_model_and_column(made_report):
  columns = tables.column_names(LATENCY_BATCHES)
  rows = _json_report(made_report)['models']
  assert [row['model'] for row in rows] == MODELS
  assert all(set(columns) <= set(row) for row in rows)
  with open(os.path.join(made_report, 'report.csv')) as f:
    csv_rows = list(csv.DictReader(f))
  assert [row['model'] for row in csv_rows] == MODELS
  assert list(csv_rows[0]) == columns
  markdown = open(os.path.join(made_report, 'report.md')).read()
  header_cells = {cell.strip() for line in markdown.splitlines()
                  if line.startswith('| model') for cell in line.split('|')}
  assert set(columns) <= header_cells
  assert all(f'| {name} |' in markdown for name in MODELS)


def test_report_figures_are_measured(made_report):
  for row in _json_report(made_report)['models']:
    assert 0 < row['gzip_bytes'] < row['file_bytes']
    assert 0.0 <= row['vqa_written'] <= row['vqa_kept'] <= 1.0
    # Every model here reads the image: the image-branch check is measured.
    assert 0.0 <= row['vqa_shuffled_images'] <= 1.0
    for batch in LATENCY_BATCHES:
      assert row[f'ms_per_example_b{batch}'] > 0
      assert (row[f'ms_per_example_b{batch}'] *
              row[f'examples_per_s_b{batch}']) == pytest.approx(1000)


def test_tflite_rows_count_the_keras_parameters_only_in_their_model_dir(
    made_report, student_with_tflite):
  rows = {row['model']: row for row in _json_report(made_report)['models']}
  student, in_dir, loose = (rows['student'], rows['student-int8'],
                            rows['loose-int8'])
  assert student['format'] == measurements.KERAS
  assert in_dir['format'] == loose['format'] == measurements.TFLITE
  assert 0 < student['nonzero_parameters'] <= student['parameters']
  assert in_dir['parameters'] == student['parameters']
  assert loose['parameters'] is None and loose['parameter_ratio'] is None
  assert in_dir['file_bytes'] == loose['file_bytes'] == os.path.getsize(
      tflite_export.tflite_path(student_with_tflite[0], 'int8'))
  assert student['tflite_bytes'] == os.path.getsize(
      tflite_export.tflite_path(student_with_tflite[0], 'none'))
  assert rows['teacher']['tflite_bytes'] is None  # not exported
  assert in_dir['vqa_written'] == loose['vqa_written']
  # The bundle beside the file in MODEL_DIR/tflite/ is sized and timed from
  # a JPEG and a question; a loose file has none, the student no export/.
  bundle = tflite_export.bundle_path(student_with_tflite[0], 'int8')
  assert in_dir['bundle_bytes'] == sum(
      os.path.getsize(os.path.join(bundle, name))
      for name in os.listdir(bundle))
  assert in_dir['ms_with_inputs_b1'] > 0
  for row in (loose, student):
    assert row['bundle_bytes'] is None and row['ms_with_inputs_b1'] is None


def test_ratios_are_one_for_the_baseline_and_match_the_figures(made_report):
  rows = {row['model']: row for row in _json_report(made_report)['models']}
  student = rows.pop('student')
  for ratio in tables.ratio_columns(LATENCY_BATCHES):
    assert student[ratio.name] == pytest.approx(1.0), ratio.name
    for name, row in rows.items():
      if row[ratio.of] is None:
        assert row[ratio.name] is None, (name, ratio.name)
        continue
      expected = (student[ratio.of] / row[ratio.of] if ratio.inverse
                  else row[ratio.of] / student[ratio.of])
      assert row[ratio.name] == pytest.approx(expected), (name, ratio.name)
  assert rows['teacher']['parameter_ratio'] > 1  # the bigger model
  # int8 against the float32 .tflite (the compact tiny student's Keras
  # weights are smaller than the vocabulary remap table both files hold).
  assert rows['student-int8']['file_bytes'] < student['tflite_bytes']


def test_plots_are_png_files(made_report):
  for name in (plots.SIZE_PLOT, plots.LATENCY_PLOT):
    with open(os.path.join(made_report, name), 'rb') as f:
      assert f.read(8) == PNG_SIGNATURE, name


def _error(capsys, argv):
  code = cli.main(['report', *argv])
  message = capsys.readouterr().err
  assert code == 2
  assert message.startswith('vqa report: error:'), message
  return message


@pytest.mark.parametrize('entry', ['teacher', '=somewhere', 'teacher='])
def test_malformed_models_entry_exits_2(entry, tiny_records, tmp_path,
                                        capsys):
  message = _error(capsys, ['--data', tiny_records, '--output',
                            str(tmp_path), '--models', entry])
  assert 'NAME=PATH' in message


def test_missing_model_path_exits_2(tiny_records, tmp_path, capsys):
  missing = str(tmp_path / 'nowhere')
  message = _error(capsys, ['--data', tiny_records, '--output',
                            str(tmp_path), '--models', f'gone={missing}'])
  assert missing in message


def test_unknown_baseline_exits_2(tiny_records, tiny_student, tmp_path,
                                  capsys):
  message = _error(capsys, ['--data', tiny_records, '--output', str(tmp_path),
                            '--models', f'student={tiny_student}',
                            '--baseline', 'teacher'])
  assert "'teacher'" in message


@pytest.mark.parametrize('flags, expected', [
    (['--split', 'test2015'], "'test2015'"),
    (['--latency-batches', '1', '1'], 'distinct'),
    (['--latency-repeats', '0'], '--latency-repeats')])
def test_bad_split_or_latency_flags_exit_2(flags, expected, tiny_records,
                                           tiny_student, tmp_path, capsys):
  message = _error(capsys, ['--data', tiny_records, '--output', str(tmp_path),
                            '--models', f'student={tiny_student}', *flags])
  assert expected in message


def test_model_of_another_answer_vocabulary_exits_2(
    tiny_records, tiny_student, tmp_path, capsys):
  other = str(tmp_path / 'other')
  shutil.copytree(tiny_student, other)
  config_path = os.path.join(other, model_io.CONFIG_FILE)
  config = model_io.read_json(config_path)
  config['answers'] = list(reversed(config['answers']))
  model_io.write_json(config, config_path)
  message = _error(capsys, ['--data', tiny_records, '--output',
                            str(tmp_path / 'report'), '--models',
                            f'other={other}'])
  assert 'another answer vocabulary' in message


def test_report_html_is_one_page_with_every_model_and_example(made_report):
  with open(os.path.join(made_report, report_html.HTML_FILE)) as f:
    page = f.read()
  rows = _json_report(made_report)['models']
  for row in rows:
    assert f'<tr data-model="{row["model"]}"' in page
  assert page.count('src="data:image/png;base64,') == 2  # the two plots
  examples = _json_report(made_report)['examples']
  assert len(examples) == report.ReportConfig.examples
  assert page.count('src="data:image/jpeg;base64,') == len(examples)
  for example in examples:
    assert [entry['model'] for entry in example['model_answers']] == MODELS
    assert all(len(entry['answers']) == measurements.EXAMPLE_TOP_K
               for entry in example['model_answers'])
    assert html.escape(example['question']) in page
  # Nothing to fetch: it opens offline.
  assert not re.search(r'(src|href)="(https?:)?//', page)
  # Every model reads the image: the image-branch check has its section.
  assert '<h2 id="image-check">' in page


def _html_report(rows):
  batches = (1,)
  ratios = [tables.Column('model', '')] + [
      tables.Column(r.name, r.description, '.3f')
      for r in tables.ratio_columns(batches)]
  fake = {'config': {'split': 'val2014', 'data': 'OUT', 'latency_repeats': 1,
                     'latency_batches': batches},
          'machine': 'here', 'baseline': 'a', 'models': rows}
  return report_html.format_html(fake, tables.figure_columns(batches),
                                 ratios, [], [])


def test_report_html_shows_the_image_branch_check_when_measured():
  rows = [{'model': 'a', 'vqa_written': 0.5, 'vqa_shuffled_images': 0.25},
          {'model': 'b', 'vqa_written': 0.4, 'vqa_shuffled_images': None}]
  page = _html_report(rows)
  assert 'id="image-check"' in page
  section = page[page.index('id="image-check"'):]
  assert '<th>vqa_shuffled_images</th>' in section
  assert '+0.2500' in section  # a's drop
  assert _html_report([{'model': 'a', 'vqa_written': 0.5}]).count(
      'image-check') == 0
