"""End-to-end DirectRunner runs into tmp_path, read back with the trainer's
parser; every reject reason produced on purpose lands in its count."""
import glob
import json
import os

import pytest
import tensorflow as tf

from beam_pipelines import accounting
from beam_pipelines import layout
from beam_pipelines import preprocess
from beam_pipelines import tokenization
from tests.beam_pipelines import image_files
from tests.beam_pipelines import records as records_lib
from tests.beam_pipelines import vqa_files
from trainer.contract import record_spec
from trainer.contract import vqa_metric

IN_MEMORY = ['--direct_running_mode=in_memory']
L = 12
SPLITS = ('train2014', 'val2014', 'test2015')


def _train_split(data_dir):
  q, a = vqa_files.question, vqa_files.annotation
  questions = [
      q(1001, 1, 'What color is the circle?'),
      q(1002, 1, 'How many shapes are there?'),
      q(1003, 1, 'Is there a red square?'),
      q(2001, 2, 'Is the square blue?'),
      q(2002, 2, 'What color is the square?'),
      q(3001, 3, 'Is there a triangle?'),
      q(3002, 3, 'What color is the sky today in this picture of '
            'many coloured shapes?'),  # truncated at L tokens
      q(4001, 4, 'How many circles are there?'),
      q(4002, 4, 'What shape is it?'),  # answer outside the vocabulary
      q(20001, 20, 'Missing image?'),
      q(21001, 21, 'Empty image?'),
      q(22001, 22, 'Unreadable image?'),
      q(23001, 23, 'Truncated image?'),
      q(24001, 24, 'Decompression bomb?'),
      q(1001, 1, 'A duplicate question id?'),
      q(5001, 1, 'No annotation?'),
      q(5002, 1, '   '),
      {'question_id': '5003', 'image_id': 1, 'question': 'Malformed?'},
  ]
  annotations = [
      a(1001, 1, ['red'] * 9 + ['Red.']),
      a(1002, 1, ['Two'] * 4 + ['2'] * 4 + ['3'] * 2, 'number', 'how many'),
      a(1003, 1, ['yes'] * 2 + ['no'] * 8, 'yes/no', 'is there a'),
      a(2001, 2, ['yes.'] * 7 + ['no'] * 3, 'yes/no', 'is the'),
      a(2002, 2, ['red'] * 10),
      a(3001, 3, ['no'] * 10, 'yes/no', 'is there a'),
      a(3002, 3, ['red'] * 6 + ['blue'] * 4),
      a(4001, 4, ['two'] * 10, 'number', 'how many'),
      a(4002, 4, ['circle'] * 10, 'other', 'what shape'),
  ] + [a(qid, qid // 1000, ['yes'] * 10, 'yes/no')
       for qid in (20001, 21001, 22001, 23001, 24001, 5002)]
  images = {1: image_files.rgb_jpeg(), 2: image_files.grayscale_jpeg(),
            3: image_files.cmyk_jpeg(), 4: image_files.rgba_png(),
            21: b'', 22: image_files.unreadable(),
            23: image_files.truncated_jpeg(),
            24: image_files.decompression_bomb_png()}
  vqa_files.write_split(data_dir, 'train2014', questions, annotations, images)


def _val_split(data_dir):
  q, a = vqa_files.question, vqa_files.annotation
  questions = [q(100001, 100, 'What color is the circle?'),
               q(100002, 100, 'What shape is it?'),
               q(101001, 101, 'Is there a square?')]
  annotations = [a(100001, 100, ['blue'] * 10),
                 a(100002, 100, ['circle'] * 10),
                 a(101001, 101, ['yes'] * 10, 'yes/no')]
  vqa_files.write_split(data_dir, 'val2014', questions, annotations,
                        {100: image_files.palette_png()})


def _test_split(data_dir):
  questions = [vqa_files.question(200001, 200, 'Is it red?'),
               vqa_files.question(200002, 200, 'How many?')]
  vqa_files.write_split(data_dir, 'test2015', questions, None,
                        {200: image_files.rgb_jpeg()})


def _config(data_dir, output, **overrides):
  values = dict(data_dir=str(data_dir), output=str(output), splits=SPLITS,
                top_answers=5, max_question_tokens=L, image_size=32,
                num_shards=3,
                # One train question of 18 has no annotation on purpose.
                allow_missing_annotations=True)
  values.update(overrides)
  return preprocess.PreprocessConfig(**values)


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  directory = tmp_path_factory.mktemp('vqa')
  _train_split(str(directory))
  _val_split(str(directory))
  _test_split(str(directory))
  return directory


@pytest.fixture(scope='module')
def run(data_dir, tmp_path_factory):
  output = tmp_path_factory.mktemp('out')
  metadata, counters = preprocess.run_preprocess(_config(data_dir, output),
                                                 IN_MEMORY)
  return output, metadata.to_json(), counters


def read_records(output, split, num_answers=5):
  files = sorted(glob.glob(record_spec.shard_glob(str(output), split)))
  return records_lib.parse_shards(files, L, num_answers)


def read_rejected(output, split):
  rejected = {}
  for path in glob.glob(record_spec.rejected_prefix(str(output), split) + '-*'):
    with open(path) as f:
      for line in f:
        record = json.loads(line)
        rejected.setdefault(record['reason'], []).append(record['question_id'])
  return {reason: sorted(ids, key=str) for reason, ids in rejected.items()}


def test_vocabulary_is_the_top_answers_of_the_training_split(run):
  output, metadata, _ = run
  with open(record_spec.answers_path(str(output))) as f:
    vocabulary = json.load(f)
  # Counted over the annotated training questions, including those whose
  # image is rejected later: yes x6, red x3, 2 x2, no x2 (ties by name).
  assert vocabulary['answers'] == ['yes', 'red', '2', 'no', 'circle']
  assert vocabulary['counts'] == [6, 3, 2, 2, 1]
  assert metadata['answers'] == {'num_answers': 5, 'source_split': 'train2014'}


def test_metadata_names_each_split_s_input_files(run, data_dir):
  _, metadata, _ = run
  assert metadata['inputs']['val2014'] == {
      'questions': layout.questions_path(str(data_dir), 'val2014'),
      'annotations': layout.annotations_path(str(data_dir), 'val2014')}
  assert metadata['inputs']['test2015'] == {
      'questions': layout.questions_path(str(data_dir), 'test2015'),
      'annotations': ''}


def test_every_question_is_accounted_for(run):
  _, metadata, _ = run
  train = metadata['counts']['train2014']
  assert train['questions'] == 18
  assert train['written'] == 9
  assert train['filtered'] == {}
  assert train['rejected'] == {
      accounting.MISSING_IMAGE: 1, accounting.EMPTY_IMAGE: 1,
      accounting.UNREADABLE_IMAGE: 1, accounting.TRUNCATED_IMAGE: 1,
      accounting.IMAGE_TOO_LARGE: 1, accounting.DUPLICATE_QUESTION_ID: 1,
      accounting.MISSING_ANNOTATION: 1, accounting.EMPTY_QUESTION: 1,
      accounting.MALFORMED_QUESTION: 1}
  assert train['events'][accounting.TRUNCATED_QUESTIONS] == 1
  for split in SPLITS:
    assert accounting.unaccounted(metadata['counts'][split]) == 0


def test_rejected_questions_are_listed_with_their_reason(run):
  output, _, _ = run
  assert read_rejected(output, 'train2014') == {
      accounting.MISSING_IMAGE: [20001], accounting.EMPTY_IMAGE: [21001],
      accounting.UNREADABLE_IMAGE: [22001],
      accounting.TRUNCATED_IMAGE: [23001],
      accounting.IMAGE_TOO_LARGE: [24001],
      accounting.DUPLICATE_QUESTION_ID: [1001],
      accounting.MISSING_ANNOTATION: [5001],
      accounting.EMPTY_QUESTION: [5002],
      accounting.MALFORMED_QUESTION: [None]}
  assert read_rejected(output, 'val2014') == {
      accounting.MISSING_IMAGE: [101001]}
  assert read_rejected(output, 'test2015') == {}


def test_each_image_is_read_once_however_many_questions_use_it(run):
  _, metadata, counters = run
  train = metadata['counts']['train2014']['events']
  assert train[accounting.IMAGES_REFERENCED] == 9  # images 1-4 and 20-24
  assert train[accounting.IMAGES_READ] == 9
  total_read = sum(metadata['counts'][s]['events'][accounting.IMAGES_READ]
                   for s in SPLITS)
  assert counters['images_read'] == total_read == 9 + 2 + 1


def test_beam_counters_match_the_metadata(run):
  _, metadata, counters = run
  train = metadata['counts']['train2014']
  assert counters['train2014/written'] == train['written']
  assert counters['train2014/read'] == train['questions']
  assert counters['train2014/rejected/missing_image'] == 1
  assert counters['truncated_questions'] == 1


def test_records_read_back_field_by_field(run):
  output, _, _ = run
  records = read_records(output, 'train2014')
  assert sorted(records) == [1001, 1002, 1003, 2001, 2002, 3001, 3002, 4001,
                             4002]
  tokenizer = tokenization.QuestionTokenizer(
      tokenization.resolve_tokenizer_files(tokenization.DEFAULT_TOKENIZER), L)
  for question_id, record in records.items():
    text = record[record_spec.QUESTION_TEXT].decode()
    ids = record[record_spec.QUESTION_INPUT_IDS]
    if question_id != 3002:
      assert tokenizer.decode(ids) == text.lower()
    assert list(record[record_spec.QUESTION_ATTENTION_MASK]) == [
        1 if i else 0 for i in ids]
    image = tf.io.decode_jpeg(record[record_spec.IMAGE_ENCODED]).numpy()
    assert image.shape == (32, 32, 3)
  counting = records[1002]
  assert counting[record_spec.ANSWER_LABEL] == 2  # '2'
  assert list(counting[record_spec.ANSWER_HUMAN]) == [b'2'] * 8 + [b'3'] * 2
  assert counting[record_spec.ANSWER_TYPE] == b'number'
  assert counting[record_spec.QUESTION_TYPE] == b'how many'
  # Two "yes" among ten: leaving out a "yes" leaves 1 match (1/3), leaving
  # out a "no" leaves 2 (2/3): (2/3 + 16/3) / 10 = 0.6 for "yes", 1 for "no".
  scores = records[1003][record_spec.ANSWER_SCORES]
  assert scores == pytest.approx([0.6, 0, 0, 1.0, 0])
  assert records[1003][record_spec.ANSWER_LABEL] == 3
  assert records[3002][record_spec.QUESTION_ATTENTION_MASK].sum() == L
  assert records[1001][record_spec.IMAGE_ID] == 1


def test_soft_scores_are_the_official_accuracy_of_each_answer(run):
  output, _, _ = run
  with open(record_spec.answers_path(str(output))) as f:
    answers = json.load(f)['answers']
  for record in read_records(output, 'train2014').values():
    humans = [h.decode() for h in record[record_spec.ANSWER_HUMAN]]
    expected = [vqa_metric.vqa_accuracy(a, humans) for a in answers]
    assert record[record_spec.ANSWER_SCORES] == pytest.approx(expected)


def test_other_splits_keep_unknown_answers_and_unlabelled_questions(run):
  output, metadata, _ = run
  val = read_records(output, 'val2014')
  assert val[100002][record_spec.ANSWER_LABEL] == 4  # circle
  assert val[100001][record_spec.ANSWER_LABEL] == record_spec.UNLABELLED  # blue
  assert list(val[100001][record_spec.ANSWER_HUMAN]) == [b'blue'] * 10
  assert metadata['counts']['val2014']['written'] == 2
  assert metadata['counts']['val2014']['events'][
      accounting.LABEL_OUTSIDE_VOCABULARY] == 1
  test = read_records(output, 'test2015')
  assert sorted(test) == [200001, 200002]
  for record in test.values():
    assert record[record_spec.ANSWER_LABEL] == record_spec.UNLABELLED
    assert list(record[record_spec.ANSWER_HUMAN]) == [b''] * 10
    assert record[record_spec.ANSWER_TYPE] == b''


def test_shards_and_metadata_follow_the_contract(run):
  output, metadata, _ = run
  for split in SPLITS:
    names = sorted(os.listdir(os.path.join(str(output), split)))
    assert names == [f'part-{i:05d}-of-00003.tfrecord.gz' for i in range(3)]
  assert [f['name'] for f in metadata['features']] == [
      f.name for f in record_spec.FEATURES]
  assert metadata['tokenizer']['vocab_size'] == 30522
  tokenizer_dir = record_spec.tokenizer_dir(str(output))
  assert metadata['tokenizer']['dir'] == tokenizer_dir
  with open(os.path.join(tokenizer_dir, 'vocab.txt')) as f:
    assert len(f.read().splitlines()) == 30522
  assert metadata['config']['max_question_tokens'] == L


def test_training_questions_outside_the_vocabulary_are_filtered(
    data_dir, tmp_path):
  config = _config(data_dir, tmp_path / 'out', top_answers=2,
                   splits=('train2014',))
  metadata = preprocess.run_preprocess(config, IN_MEMORY)[0].to_json()
  train = metadata['counts']['train2014']
  # Vocabulary: yes, red. Kept: 1001, 2001, 2002, 3002.
  assert train['written'] == 4
  assert train['filtered'] == {accounting.ANSWER_NOT_IN_VOCABULARY: 5}
  assert accounting.unaccounted(train) == 0
  assert sorted(read_records(tmp_path / 'out', 'train2014', 2)) == [
      1001, 2001, 2002, 3002]
