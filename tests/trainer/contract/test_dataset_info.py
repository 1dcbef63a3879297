"""answers.json and metadata.json read and written in one place, typed."""
import json

import pytest

from trainer.contract import dataset_info
from trainer.contract import record_spec

ANSWERS = {'answers': ['yes', 'no', '2'], 'counts': [9, 7, 3]}


def _metadata(**overrides):
  """metadata.json as `vqa preprocess` writes it."""
  value = {
      'config': {'max_question_tokens': 16, 'image_size': 32,
                 'splits': ['train2014', 'test2015'],
                 'unlabelled_splits': []},
      'tokenizer': {'name': 'bert', 'vocab_size': 30522,
                    'files': ['vocab.txt'], 'max_question_tokens': 16,
                    'dir': 'out/tokenizer'},
      'answers': {'num_answers': 3, 'source_split': 'train2014'},
      'counts': {'train2014': {'questions': 5, 'written': 4, 'filtered': {},
                               'rejected': {}, 'events': {}},
                 'test2015': {'questions': 2, 'written': 2, 'filtered': {},
                              'rejected': {}, 'events': {}}},
      'features': record_spec.describe_features(16, 3),
      'shards': {'train2014': 'out/train2014/part-*-of-*.tfrecord.gz'},
      'inputs': {'train2014': {'questions': 'q.json', 'annotations': 'a.json'},
                 'test2015': {'questions': 't.json', 'annotations': ''}},
  }
  value.update(overrides)
  return value


def _text(value):
  return json.dumps(value, indent=2, sort_keys=True)


def _write(folder, answers, metadata):
  (folder / record_spec.ANSWERS_FILENAME).write_text(_text(answers))
  (folder / record_spec.METADATA_FILENAME).write_text(_text(metadata))


def test_both_files_round_trip_to_the_same_text(tmp_path):
  _write(tmp_path, ANSWERS, _metadata())
  vocabulary, metadata = dataset_info.read_dataset_info(str(tmp_path))
  assert vocabulary.answers == ('yes', 'no', '2')
  assert metadata.max_question_tokens == 16 and metadata.image_size == 32
  assert metadata.tokenizer.vocab_size == 30522
  assert metadata.splits == ['test2015', 'train2014']
  assert metadata.written('train2014') == 4
  assert metadata.questions('test2015') == 2
  assert metadata.inputs['test2015'] == dataset_info.SplitInputs('t.json', '')
  assert dataset_info.answers_text(vocabulary) == _text(ANSWERS)
  assert dataset_info.metadata_text(metadata) == _text(_metadata())


def test_an_older_metadata_json_still_loads(tmp_path):
  old = _metadata()
  del old['inputs'], old['config']['unlabelled_splits']
  del old['tokenizer']['dir']
  _write(tmp_path, {'answers': ['yes']}, old)
  vocabulary, metadata = dataset_info.read_dataset_info(str(tmp_path))
  assert vocabulary.counts == ()
  assert metadata.inputs == {} and metadata.unlabelled_splits == ()
  assert metadata.tokenizer.dir == ''


@pytest.mark.parametrize('section, key', [
    (None, 'counts'), ('config', 'image_size'), ('tokenizer', 'vocab_size'),
    ('answers', 'num_answers')])
def test_a_missing_key_is_named_with_the_file(tmp_path, section, key):
  metadata = _metadata()
  del (metadata[section] if section else metadata)[key]
  _write(tmp_path, ANSWERS, metadata)
  path = record_spec.metadata_path(str(tmp_path))
  with pytest.raises(dataset_info.DatasetInfoError) as raised:
    dataset_info.read_metadata(str(tmp_path))
  assert path in str(raised.value) and repr(
      f'{section}.{key}' if section else key) in str(raised.value)


def test_a_value_of_the_wrong_type_is_named_with_the_file(tmp_path):
  metadata = _metadata()
  metadata['config']['image_size'] = '32'
  _write(tmp_path, {'answers': 'yes'}, metadata)
  for read, name in ((dataset_info.read_metadata, "'config.image_size'"),
                     (dataset_info.read_answers, "'answers'")):
    with pytest.raises(dataset_info.DatasetInfoError, match=name) as raised:
      read(str(tmp_path))
    assert str(tmp_path) in str(raised.value)


def test_a_missing_file_says_to_preprocess(tmp_path):
  with pytest.raises(FileNotFoundError, match='vqa preprocess'):
    dataset_info.read_answers(str(tmp_path))


def test_an_unknown_split_is_refused_naming_metadata_json(tmp_path):
  _write(tmp_path, ANSWERS, _metadata())
  metadata = dataset_info.read_metadata(str(tmp_path))
  metadata.check_split('train2014')
  with pytest.raises(ValueError, match=r"--split 'val2014': not in .*"
                     r"metadata.json \(preprocessed: test2015, train2014\)"):
    metadata.check_split('val2014')


def test_the_contract_imports_no_tensorflow():
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  code = ('import sys; from trainer.contract import dataset_info; '
          'sys.exit("tensorflow" in sys.modules)')
  assert subprocess.run([sys.executable, '-c', code], check=False
                        ).returncode == 0
