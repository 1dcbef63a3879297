"""`vqa serve`'s JSON API: the same answers as `vqa predict` and the
interpreter, clear refusals of bad uploads, no way out of the data folder."""
import io
import os
import shutil

import numpy as np
import pytest
from fastapi import testclient
from PIL import Image

from trainer.contract import dataset_info
from trainer.data import input_pipeline
from trainer.serve import predict
from trainer.data import sample_questions
from trainer.serve import web
from trainer.serve import model_backends
from trainer.serve import request_inputs
from trainer.serve import tflite_export
from trainer.app import cli

QUESTION = 'what color is the object?'


@pytest.fixture(scope='module')
def backends(served_models, tiny_records):
  return model_backends.load_backends(served_models, tiny_records)


@pytest.fixture(scope='module')
def store(tiny_records):
  return request_inputs.QuestionStore(tiny_records, 10)


def _client(backends, store, tiny_records, **limits):
  config = web.ServeConfig(data=tiny_records,
                             limits=request_inputs.UploadLimits(**limits))
  return testclient.TestClient(web.build_app(backends, config, store))


@pytest.fixture(scope='module')
def client(backends, store, tiny_records):
  return _client(backends, store, tiny_records)


@pytest.fixture(scope='module')
def first_question(store):
  return store.questions('val2014')[0]


def _png(width, height):
  buffer = io.BytesIO()
  Image.new('RGB', (width, height), (200, 30, 30)).save(buffer, format='PNG')
  return buffer.getvalue()


def _ask(client, image, question=QUESTION, name='photo.jpg'):
  return client.post('/api/answer', data={'question': question},
                     files={'image': (name, image, 'image/jpeg')})


def _answers(result):
  return {model['name']: [(a['answer'], a['probability'])
                          for a in model['answers']]
          for model in result['models']}


def test_api_answers_a_jpeg_like_vqa_predict(client, served_models,
                                             first_question, tmp_path,
                                             capsys):
  path = tmp_path / 'photo.jpg'
  path.write_bytes(first_question.image_jpeg)
  response = _ask(client, first_question.image_jpeg)
  assert response.status_code == 200, response.text
  served = _answers(response.json())
  assert list(served) == [name for name, _ in served_models]
  for name, model_dir in served_models[:2]:  # the SavedModels
    [(_, expected)] = predict.predict(
        predict.load_serving_function(model_dir), [(str(path), QUESTION)])
    assert [a for a, _ in served[name]] == [a for a, _ in expected]
    np.testing.assert_allclose([p for _, p in served[name]],
                               [p for _, p in expected], rtol=1e-5)
    assert len(served[name]) == model_backends.TOP_K
  # The command prints the same answers.
  assert cli.main(['predict', '--model', served_models[0][1], '--image',
                   str(path), '--question', QUESTION]) == 0
  printed = [line.split(None, 1)[1] for line in
             capsys.readouterr().out.splitlines()[1:]]
  assert printed == [a for a, _ in served['teacher']]
  assert all(m['milliseconds'] > 0 for m in response.json()['models'])


def test_tflite_answers_like_the_interpreter_on_the_records(
    client, served_models, first_question, tiny_records):
  """In-graph tokenisation and decoding feed the interpreter what the
  records hold: the same answers as running it on the records' inputs."""
  response = client.post('/api/answer', data={
      'split': 'val2014', 'question_id': str(first_question.question_id)})
  assert response.status_code == 200, response.text
  served = _answers(response.json())['student-int8']
  runner = tflite_export.TFLiteRunner(served_models[2][1])
  logits = runner.logits(sample_questions.model_inputs([first_question],
                                                       True))
  spec = input_pipeline.read_data_spec(tiny_records)
  [expected] = sample_questions.top_answers(logits, spec.answers,
                                            model_backends.TOP_K)
  assert [a for a, _ in served] == [a for a, _ in expected]
  np.testing.assert_allclose([p for _, p in served], [p for _, p in expected],
                             rtol=1e-4)


def test_a_split_question_comes_with_its_ground_truth(client, first_question):
  listed = client.get('/api/questions', params={'split': 'val2014'}).json()
  assert listed['questions'][0] == first_question.summary()
  response = client.post('/api/answer', data={
      'split': 'val2014', 'question_id': str(first_question.question_id)})
  result = response.json()
  assert result['question'] == first_question.question  # none typed
  assert result['ground_truth']['answers'] == list(
      first_question.human_answers)
  assert len(first_question.human_answers) == 10
  image = client.get('/api/image', params={
      'split': 'val2014', 'question_id': first_question.question_id})
  assert image.content == first_question.image_jpeg
  assert image.headers['content-type'] == 'image/jpeg'


def test_info_lists_models_splits_and_limits(client, served_models):
  info = client.get('/api/info').json()
  assert [m['name'] for m in info['models']] == [n for n, _ in served_models]
  assert [m['kind'] for m in info['models']] == ['savedmodel', 'savedmodel',
                                                 'tflite']
  assert 'val2014' in info['splits'] and info['split'] == 'val2014'
  assert info['max_upload_bytes'] == 10 * 2**20
  assert info['max_pixels'] == 25_000_000


def test_the_page_is_served(client):
  page = client.get('/')
  assert page.status_code == 200
  assert 'id="question"' in page.text and '/api/answer' in page.text


def test_a_non_image_upload_is_refused_with_a_clear_message(client):
  response = _ask(client, b'%PDF-1.4 not a picture', name='notes.pdf')
  assert response.status_code == 415
  assert 'not an image' in response.json()['detail']
  truncated = _png(40, 40)[:60]
  response = _ask(client, truncated)
  assert response.status_code == 415, response.text


def test_uploads_over_the_size_or_pixel_limit_are_refused(backends, store,
                                                          tiny_records):
  client = _client(backends, store, tiny_records, max_upload_bytes=2000,
                   max_pixels=100 * 100)
  big_file = os.urandom(3000)
  response = _ask(client, big_file)
  assert response.status_code == 413
  assert 'larger than' in response.json()['detail']
  too_many_pixels = _png(200, 200)  # a small file: one colour
  assert len(too_many_pixels) < 2000
  response = _ask(client, too_many_pixels)
  assert response.status_code == 413
  assert 'megapixels' in response.json()['detail']
  assert _ask(client, _png(100, 100)).status_code == 200


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(
    backends, store, tiny_records):
  client = _client(backends, store, tiny_records, max_upload_bytes=1000)
  response = _ask(client, os.urandom(request_inputs.FORM_OVERHEAD_BYTES + 2000))
  assert response.status_code == 413
  assert 'the limit is' in response.json()['detail']


def test_other_image_formats_are_re_encoded_for_the_models():
  buffer = io.BytesIO()
  Image.new('RGB', (20, 10), (0, 90, 200)).save(buffer, format='TIFF')
  checked = request_inputs.checked_image(buffer.getvalue(),
                                       request_inputs.UploadLimits())
  assert checked.format == 'TIFF' and (checked.width, checked.height) == (
      20, 10)
  assert checked.data.startswith(b'\x89PNG')
  jpeg = io.BytesIO()
  Image.new('RGB', (20, 10)).save(jpeg, format='JPEG')
  assert request_inputs.checked_image(
      jpeg.getvalue(), request_inputs.UploadLimits()).data == jpeg.getvalue()


@pytest.mark.parametrize('split', ['../..', '..', '../records', '/etc',
                                   'val2014/../..', 'nosuchsplit'])
def test_splits_outside_the_data_folder_are_refused(client, split):
  response = client.get('/api/questions', params={'split': split})
  assert response.status_code == 400
  assert 'is not one of the splits' in response.json()['detail']
  response = client.get('/api/image', params={'split': split,
                                              'question_id': 1})
  assert response.status_code == 400
  response = client.post('/api/answer', data={'split': split,
                                              'question_id': '1'})
  assert response.status_code == 400


def test_a_split_linked_out_of_the_data_folder_is_refused(tmp_path):
  outside = tmp_path / 'outside'
  outside.mkdir()
  data = tmp_path / 'data'
  data.mkdir()
  os.symlink(outside, data / 'linked')
  (data / 'inside').mkdir()
  spec = input_pipeline.DataSpec(
      data_dir=str(data), answers=('yes',), max_question_tokens=4,
      image_size=8, metadata=dataset_info.DatasetMetadata(
          counts={'linked': {}, 'inside': {}}))
  assert sample_questions.checked_split(spec, 'inside') == 'inside'
  with pytest.raises(sample_questions.SplitRefused, match='outside the data'):
    sample_questions.checked_split(spec, 'linked')


def test_an_unknown_question_id_and_a_missing_image_are_errors(client):
  response = client.post('/api/answer', data={'split': 'val2014',
                                              'question_id': '-5'})
  assert response.status_code == 404
  assert 'not among' in response.json()['detail']
  response = client.post('/api/answer', data={'question': QUESTION})
  assert response.status_code == 400
  assert 'image' in response.json()['detail']


def test_an_empty_question_is_refused(client, first_question):
  response = _ask(client, first_question.image_jpeg, question='  ')
  assert response.status_code == 400
  assert response.json()['detail'] == 'type a question'


def test_without_data_there_are_no_split_questions(backends):
  app = web.build_app(backends, web.ServeConfig())
  client = testclient.TestClient(app)
  assert client.get('/api/info').json()['splits'] == []
  response = client.get('/api/questions')
  assert response.status_code == 404
  assert '--data' in response.json()['detail']


def test_a_loose_tflite_file_needs_the_data_folder(served_models,
                                                   tiny_records, tmp_path):
  loose = str(tmp_path / 'model.tflite')
  shutil.copy(served_models[2][1], loose)
  with pytest.raises(ValueError, match='give --data'):
    model_backends.load_backend('loose', loose)
  backend = model_backends.load_backend('loose', loose, tiny_records)
  assert len(backend.answer(_png(32, 32), QUESTION).answers) == 5


def test_loopback_is_quiet_and_any_other_host_warns():
  for host in ('127.0.0.1', 'localhost', '::1', '127.0.0.2'):
    assert web.host_warning(host) is None
  for host in ('0.0.0.0', '192.168.1.10', '::', 'example.org'):
    assert 'without authentication' in web.host_warning(host)


def test_cli_names_what_is_wrong(tiny_student, tmp_path, capsys):
  assert cli.main(['serve', '--models', 'student']) == 2
  assert 'expected NAME=PATH' in capsys.readouterr().err
  assert cli.main(['serve', '--models', f'a={tmp_path}/missing']) == 2
  assert 'does not exist' in capsys.readouterr().err
  # The shared student fixture is not exported.
  assert cli.main(['serve', '--models', f'student={tiny_student}']) == 2
  assert 'MODEL_DIR/export' in capsys.readouterr().err


def test_cli_refuses_a_split_outside_the_data(served_models, tiny_records,
                                               capsys):
  name, path = served_models[0]
  assert cli.main(['serve', '--models', f'{name}={path}', '--data',
                   tiny_records, '--split', '../records']) == 2
  assert 'is not one of the splits' in capsys.readouterr().err


def test_config_reads_the_limits_in_mib_and_megapixels():
  config = cli.job_config('serve', [
      '--models', 'a=b', '--max-upload-mb', '2', '--max-megapixels', '0.5'])
  assert config.limits == request_inputs.UploadLimits(2 * 2**20, 500_000)
  assert config.host == '127.0.0.1' and config.port == 8080
