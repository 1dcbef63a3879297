"""The exported SavedModel answers from raw bytes + text in a fresh process;
evaluation matches the official rule computed from the results file."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.beam_pipelines import records as records_lib
from tests.trainer.conftest import tiny_config
from trainer.contract import dataset_info
from trainer.contract import record_spec
from trainer.measure import evaluate
from trainer.serve import export
from trainer.data import input_pipeline
from trainer.models import model_io
from trainer.fit import train
from trainer.contract import vqa_metric
from trainer.app import cli

# Only TensorFlow and tensorflow_text: no code from this repository.
_SERVE_SCRIPT = """
import json, sys
import tensorflow as tf
import tensorflow_text  # registers the tokenizer ops
model = tf.saved_model.load(sys.argv[1])
requests = json.load(open(sys.argv[2]))
out = model.signatures['serving_default'](
    image_bytes=tf.constant([open(r['image'], 'rb').read() for r in requests]),
    question=tf.constant([r['question'] for r in requests]))
print('SERVED ' + json.dumps({
    'answers': [[a.decode() for a in row] for row in out['answers'].numpy()],
    'probabilities': out['probabilities'].numpy().tolist()}))
"""


@pytest.fixture(scope='module')
def trained(tiny_records, tmp_path_factory):
  output = tmp_path_factory.mktemp('teacher')
  train.train_and_evaluate(tiny_config(tiny_records, output, epochs=2,
                                       steps_per_epoch=6))
  return str(output)


@pytest.fixture(scope='module')
def val_records(tiny_records):
  spec = input_pipeline.read_data_spec(tiny_records)
  files = input_pipeline.shard_files(tiny_records, 'val2014')
  return records_lib.parse_shards(files, spec.max_question_tokens,
                                  spec.num_answers)


def _keras_probabilities(model_dir, records):
  loaded = model_io.load_model(model_dir)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  inputs = {
      'input_ids': np.stack([r[record_spec.QUESTION_INPUT_IDS]
                             for r in records]).astype(np.int32),
      'attention_mask': np.stack([r[record_spec.QUESTION_ATTENTION_MASK]
                                  for r in records]).astype(np.int32),
      'image': np.stack([tf.io.decode_jpeg(r[record_spec.IMAGE_ENCODED]).numpy()
                         for r in records])}
  return tf.nn.softmax(loaded.model(inputs, training=False)).numpy(), loaded


def test_exported_model_answers_raw_inputs_in_a_fresh_process(
    trained, val_records, tmp_path):
  records = list(val_records.values())[:4]
  requests = []
  for i, record in enumerate(records):
    path = tmp_path / f'image{i}.jpg'
    path.write_bytes(record[record_spec.IMAGE_ENCODED])
    requests.append({'image': str(path),
                     'question': record[record_spec.QUESTION_TEXT].decode()})
  (tmp_path / 'requests.json').write_text(json.dumps(requests))
  (tmp_path / 'serve.py').write_text(_SERVE_SCRIPT)
  result = subprocess.run(
      [sys.executable, str(tmp_path / 'serve.py'),
       os.path.join(trained, export.EXPORT_DIR),
       str(tmp_path / 'requests.json')],
      cwd=str(tmp_path), capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  served = json.loads(next(line for line in result.stdout.splitlines()
                           if line.startswith('SERVED '))[len('SERVED '):])
  probabilities, loaded = _keras_probabilities(trained, records)
  for row, (answers, probs) in enumerate(zip(served['answers'],
                                             served['probabilities'])):
    assert len(answers) == export.DEFAULT_TOP_K
    assert probs == sorted(probs, reverse=True)
    expected = [loaded.answers[i] for i in np.argsort(-probabilities[row])]
    assert answers[0] == expected[0]
    np.testing.assert_allclose(
        probs[0], probabilities[row].max(), atol=2e-3)


def test_predict_cli_prints_top_answers(trained, val_records, tmp_path,
                                        capsys):
  record = next(iter(val_records.values()))
  image = tmp_path / 'photo.jpg'
  image.write_bytes(record[record_spec.IMAGE_ENCODED])
  batch = tmp_path / 'batch.jsonl'
  batch.write_text(
      json.dumps({'image': str(image), 'question': 'Is there a red circle?'})
      + '\n\n' + json.dumps({'image': str(image),
                             'question': 'How many shapes?'}) + '\n')
  assert cli.main(['predict', '--model', trained, '--image', str(image),
                   '--question', 'What color is the square?']) == 0
  assert cli.main(['predict', '--model', trained, '--batch-file', str(batch)]) == 0
  out = capsys.readouterr().out
  answers = dataset_info.read_answers(
      model_io.read_json(os.path.join(trained, 'config.json'))['data']).answers
  assert 'What color is the square?' in out and 'How many shapes?' in out
  listed = [line.split()[-1] for line in out.splitlines()
            if line.startswith('  ')]
  assert len(listed) == 3 * export.DEFAULT_TOP_K
  assert set(listed) <= set(answers)
  batch.write_text('{"image": "x.jpg"}\n')
  assert cli.main(['predict', '--model', trained, '--batch-file', str(batch)]) == 2
  assert 'batch.jsonl:1' in capsys.readouterr().err


def test_evaluation_matches_the_official_rule_on_the_results_file(
    trained, tiny_records, val_records, tmp_path):
  results = tmp_path / 'results.json'
  evaluation = evaluate.evaluate(trained, tiny_records, 'val2014',
                                 results_path=str(results))
  with open(results) as f:
    predictions = json.load(f)
  assert sorted(p['question_id'] for p in predictions) == sorted(val_records)
  official = [vqa_metric.vqa_accuracy(
      p['answer'], [h.decode() for h in
                    val_records[p['question_id']][record_spec.ANSWER_HUMAN]])
              for p in predictions]
  report = evaluation['reports']['model']
  assert report['vqa_accuracy']['written'] == pytest.approx(np.mean(official))
  assert report['questions_written'] == len(val_records)
  majority = evaluation['reports']['majority_answer']
  answers = dataset_info.read_answers(tiny_records).answers
  assert majority['answer'] == answers[0]
  assert majority['vqa_accuracy']['written'] == pytest.approx(np.mean([
      vqa_metric.vqa_accuracy(answers[0], [h.decode() for h in
                                           r[record_spec.ANSWER_HUMAN]])
      for r in val_records.values()]))
  assert set(report['vqa_accuracy_per_answer_type']) <= set(
      evaluate.ANSWER_TYPES)
  assert report['examples_per_second'] > 0


def test_question_only_baseline_is_reported(trained, tiny_records, tmp_path,
                                            capsys):
  question_only = tmp_path / 'question_only'
  train.train_and_evaluate(tiny_config(
      tiny_records, question_only, kind='question-only', epochs=1,
      steps_per_epoch=4, export=False))
  assert cli.main(['evaluate', '--model', trained, '--data', tiny_records,
                   '--question-only-model', str(question_only),
                   '--metrics', str(tmp_path / 'eval.json')]) == 0
  out = capsys.readouterr().out
  assert 'question_only' in out and 'majority_answer' in out
  saved = model_io.read_json(str(tmp_path / 'eval.json'))
  assert set(saved['reports']) == {'model', 'majority_answer',
                                   'question_only'}
  recorded = model_io.read_json(str(tmp_path / 'evaluate_config.json'))
  assert recorded['question_only_model'] == str(question_only)
  assert recorded['batch_size'] == 64  # a default, filled in
