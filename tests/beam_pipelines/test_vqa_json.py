"""Streaming the official JSON files: the same records as json.load, in a
window much smaller than the file, and errors that name the problem."""
import io
import json

import pytest

from beam_pipelines import vqa_json


def _records(n):
  return [{'question_id': 10**9 + i, 'image_id': i * 7,
           'question': f'Où est le chat n°{i} "ici"?', 'score': i / 3}
          for i in range(n)]


def _stream(text, key, monkeypatch, chunk_bytes=16):
  monkeypatch.setattr(vqa_json, '_CHUNK_BYTES', chunk_bytes)
  scanner = vqa_json._JsonScanner(io.BytesIO(text.encode('utf-8')))  # pylint: disable=protected-access
  return scanner, vqa_json._records_under(scanner, 'f.json', key)  # pylint: disable=protected-access


@pytest.mark.parametrize('indent', [None, 2])
def test_streams_the_same_items_as_json_load(monkeypatch, indent):
  document = {'info': {'nested': [1, {'a': 'b'}]}, 'questions': _records(50),
              'data_subtype': 'train2014', 'number': 123456789}
  text = json.dumps(document, indent=indent, ensure_ascii=False)
  _, items = _stream(text, 'questions', monkeypatch)
  assert list(items) == document['questions']


def test_holds_a_window_not_the_file(monkeypatch):
  text = json.dumps({'annotations': _records(2000)})
  scanner, items = _stream(text, 'annotations', monkeypatch, chunk_bytes=256)
  widest = 0
  for _ in items:
    widest = max(widest, len(scanner._text))  # pylint: disable=protected-access
  assert widest < 1000 < len(text) / 100


def test_reads_a_local_file_with_a_byte_order_mark(tmp_path):
  path = tmp_path / 'q.json'
  path.write_bytes(b'\xef\xbb\xbf' + json.dumps(
      {'questions': _records(3)}).encode('utf-8'))
  assert list(vqa_json.iter_records(str(path), 'questions')) == _records(3)


@pytest.mark.parametrize('text, message', [
    ('{"questions": [1, 2,', 'not valid JSON'),
    ('{"questions": [1] x', 'not valid JSON'),
    ('{"questions": [1]} []', 'extra data'),
    ('{"info": {}}', 'expected a JSON object with a "questions" list'),
    ('[1, 2]', 'found list'),
    ('{"questions": [1], "questions": [2]}', 'appears twice'),
])
def test_malformed_files_raise_naming_the_problem(tmp_path, text, message):
  path = tmp_path / 'q.json'
  path.write_text(text)
  with pytest.raises(vqa_json.InputFileError) as error:
    list(vqa_json.iter_records(str(path), 'questions'))
  assert str(path) in str(error.value) and message in str(error.value)


def test_slim_annotation_keeps_what_the_join_reads():
  annotation = {'question_id': 1, 'image_id': 2, 'question_type': 'is the',
                'answer_type': 'yes/no', 'multiple_choice_answer': 'yes',
                'answers': [{'answer': 'Yes', 'answer_confidence': 'yes',
                             'answer_id': 1}]}
  slim = vqa_json.slim_annotation(annotation)
  assert slim == {'question_id': 1, 'image_id': 2, 'question_type': 'is the',
                  'answer_type': 'yes/no', 'answers': [{'answer': 'Yes'}]}
  assert (vqa_json.normalized_human_answers(slim) ==
          vqa_json.normalized_human_answers(annotation))
