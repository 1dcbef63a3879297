"""The LiteRT bundle: `vqa export-tflite` writes a folder that answers on its
own, and `vqa predict --tflite BUNDLE` gives the SavedModel's answers in a
process where TensorFlow cannot be imported."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from trainer.app import cli
from trainer.data import input_pipeline
from trainer.data import sample_questions
from trainer.measure import tflite_evaluation
from trainer.models import model_io
from trainer.serve import export
from trainer.serve import litert_bundle
from trainer.serve import litert_runner
from trainer.serve import predict
from trainer.serve import predict_inputs
from trainer.serve import tflite_export

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
QUESTIONS = 24
# Runs `vqa ARGS` where importing TensorFlow (or tf_keras) raises ImportError.
WITHOUT_TENSORFLOW = '''
import sys
class NoTensorFlow:
  def find_spec(self, name, path=None, target=None):
    if name.split('.')[0] in ('tensorflow', 'tf_keras', 'tensorflow_text'):
      raise ImportError(name + ' is blocked in this test')
sys.meta_path.insert(0, NoTensorFlow())
from trainer.app import cli
code = cli.main(sys.argv[1:])
assert not {'tensorflow', 'tf_keras'} & set(sys.modules)
sys.exit(code)
'''


@pytest.fixture(scope='module')
def student(tiny_records, tiny_student, tmp_path_factory):
  """A copy of the tiny (compact) student with its SavedModel, its fp32 and
  int8 .tflite files and their bundles."""
  model_dir = str(tmp_path_factory.mktemp('bundled') / 'student')
  shutil.copytree(tiny_student, model_dir)
  export.export_saved_model(model_dir)
  results = {quantize: tflite_evaluation.export_tflite(
      model_dir, tiny_records, quantize, representative_examples=8)
             for quantize in ('none', 'int8')}
  return model_dir, results


@pytest.fixture(scope='module')
def batch_file(tiny_records, tmp_path_factory):
  """A --batch-file of the first validation questions, images as files."""
  spec = input_pipeline.read_data_spec(tiny_records)
  folder = tmp_path_factory.mktemp('questions')
  lines = []
  for number, question in enumerate(
      sample_questions.read_questions(spec, 'val2014', QUESTIONS)):
    image = folder / f'{number}.jpg'
    image.write_bytes(question.image_jpeg)
    lines.append(json.dumps({'image': str(image),
                             'question': question.question}))
  path = folder / 'questions.jsonl'
  path.write_text('\n'.join(lines) + '\n')
  return str(path)


def _without_tensorflow(*args):
  env = dict(os.environ, PYTHONPATH=ROOT)
  return subprocess.run([sys.executable, '-c', WITHOUT_TENSORFLOW, *args],
                        cwd=ROOT, env=env, capture_output=True, text=True,
                        timeout=300)


def _printed_answers(stdout):
  """[(top answer, its probability)] per question `vqa predict` printed."""
  answers, expect_top = [], False
  for line in stdout.splitlines():
    if not line.startswith(' '):
      expect_top = True
    elif expect_top:
      percent, answer = line.strip().split('%', 1)
      answers.append((answer.strip(), float(percent) / 100))
      expect_top = False
  return answers


def _saved_model_answers(model_dir, batch):
  requests = predict_inputs.read_requests(str(batch))
  return [top[0] for _, top in predict.predict(
      predict.load_serving_function(model_dir), requests)]


def test_export_writes_a_self_contained_bundle(student):
  model_dir, results = student
  bundle = tflite_export.bundle_path(model_dir, 'int8')
  assert results['int8']['bundle']['path'] == bundle
  assert sorted(os.listdir(bundle)) == sorted([
      litert_bundle.MODEL_FILE, litert_bundle.TOKENIZER_FILE,
      litert_bundle.BUNDLE_FILE, litert_bundle.README_FILE])
  with open(os.path.join(bundle, litert_bundle.MODEL_FILE), 'rb') as f:
    with open(tflite_export.tflite_path(model_dir, 'int8'), 'rb') as g:
      assert f.read() == g.read()
  facts = litert_bundle.read_facts(bundle)
  saved = model_io.read_saved_config(model_dir)
  assert facts.answers == saved.answers
  assert (facts.image_size, facts.max_question_tokens) == (
      saved.image_size, saved.max_question_tokens)
  readme = open(os.path.join(bundle, litert_bundle.README_FILE)).read()
  for name in ('input_ids', 'attention_mask', 'image', 'logits',
               f'[B, {saved.max_question_tokens}]'):
    assert name in readme
  assert results['int8']['bundle']['raw_bytes'] == sum(
      os.path.getsize(os.path.join(bundle, name)) for name in os.listdir(bundle))


def test_serve_and_report_run_tflite_files_with_litert(student):
  from ai_edge_litert import interpreter  # pylint: disable=g-import-not-at-top
  model_dir, _ = student
  runner = tflite_export.TFLiteRunner(
      tflite_export.tflite_path(model_dir, 'int8'))
  assert isinstance(runner, litert_runner.LiteRTRunner)
  assert isinstance(runner._interpreter, interpreter.Interpreter)  # pylint: disable=protected-access
  assert litert_runner.MODEL_INPUTS == (input_pipeline.INPUT_IDS,
                                        input_pipeline.ATTENTION_MASK,
                                        input_pipeline.IMAGE)


def _bundle_and_saved_model_answers(model_dir, quantize, batch_file):
  """[(top answer, probability)] of `vqa predict --tflite` (TensorFlow
  blocked) and of the SavedModel, on the same questions."""
  result = _without_tensorflow(
      'predict', '--tflite', tflite_export.bundle_path(model_dir, quantize),
      '--batch-file', batch_file)
  assert result.returncode == 0, result.stderr
  printed = _printed_answers(result.stdout)
  expected = _saved_model_answers(model_dir, batch_file)
  assert len(printed) == len(expected) == QUESTIONS
  return printed, expected


def test_the_bundle_answers_as_the_saved_model_without_tensorflow(
    student, batch_file):
  printed, expected = _bundle_and_saved_model_answers(student[0], 'none',
                                                      batch_file)
  assert [a for a, _ in printed] == [a for a, _ in expected]
  np.testing.assert_allclose([p for _, p in printed],
                             [p for _, p in expected], atol=0.0006)


def test_the_int8_bundle_mostly_gives_the_saved_model_s_top_answer(
    student, batch_file):
  printed, expected = _bundle_and_saved_model_answers(student[0], 'int8',
                                                      batch_file)
  same = [a == b for (a, _), (b, _) in zip(printed, expected)]
  assert np.mean(same) >= 0.75


def test_predict_refuses_a_missing_bundle_and_two_models(tmp_path, capsys):
  image, question = ['--image', 'x.jpg'], ['--question', 'What?']
  code = cli.main(['predict', '--tflite', str(tmp_path), *image, *question])
  assert code == 2
  err = capsys.readouterr().err
  assert err.startswith('vqa predict: error:') and 'x.jpg' in err
  image_file = tmp_path / 'x.png'
  from PIL import Image  # pylint: disable=g-import-not-at-top
  Image.new('RGB', (8, 8)).save(image_file)
  code = cli.main(['predict', '--tflite', str(tmp_path), '--image',
                   str(image_file), *question])
  assert code == 2
  assert litert_bundle.BUNDLE_FILE in capsys.readouterr().err
  code = cli.main(['predict', '--tflite', str(tmp_path), '--model',
                   str(tmp_path), *image, *question])
  assert code == 2
  assert '--model MODEL_DIR or --tflite BUNDLE' in capsys.readouterr().err


def test_the_bundle_encodes_questions_as_the_records(student, tiny_records):
  from beam_pipelines import tokenization  # pylint: disable=g-import-not-at-top
  model_dir, _ = student
  spec = input_pipeline.read_data_spec(tiny_records)
  questions = sample_questions.read_questions(spec, 'val2014', 64)
  encoder = litert_bundle.LiteRTBundle(
      tflite_export.bundle_path(model_dir, 'int8')).encoder
  ids, mask = encoder.encode([q.question for q in questions])
  np.testing.assert_array_equal(ids, [q.input_ids for q in questions])
  np.testing.assert_array_equal(mask, [q.attention_mask for q in questions])
  # A question longer than the records' L is cut as the pipeline cuts it.
  long_question = 'Is the ' + 'very ' * 40 + 'small circle red?'
  pipeline = tokenization.QuestionTokenizer(
      tokenization.resolve_tokenizer_files(
          os.path.join(tiny_records, 'tokenizer')), spec.max_question_tokens)
  long_ids, long_mask, truncated = pipeline.encode(long_question)
  assert truncated
  ids, mask = encoder.encode([long_question])
  np.testing.assert_array_equal(ids[0], long_ids)
  np.testing.assert_array_equal(mask[0], long_mask)
