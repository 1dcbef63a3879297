"""End to end on gs://: inputs read from and outputs written to a local
fake-gcs-server through Beam's own GCS file system (no mocks), then read back
from the emulator and parsed with the trainer's contract."""
import json

import pytest
import tensorflow as tf

from beam_pipelines import accounting
from beam_pipelines import preprocess
from beam_pipelines import tokenization
from tests.beam_pipelines import gcs_emulator
from tests.beam_pipelines import image_files
from tests.beam_pipelines import records as records_lib
from tests.beam_pipelines import vqa_files
from trainer.contract import record_spec

IN_MEMORY = ['--direct_running_mode=in_memory']
L = 12
NUM_SHARDS = 2
SPLITS = ('train2014', 'val2014')
DATA_DIR = 'gs://vqa-in/raw'
OUTPUT = 'gs://vqa-out/tfrecords'
EXPECTED_IDS = {'train2014': [1001, 1002, 2001], 'val2014': [100001, 100002]}
MISSING_IMAGE_QUESTION = 3001


def _train_split(data_dir):
  """Image 1 answers two questions; image 3 is missing."""
  q, a = vqa_files.question, vqa_files.annotation
  questions = [q(1001, 1, 'What color is the circle?'),
               q(1002, 1, 'Is the circle red?'),
               q(2001, 2, 'How many squares are there?'),
               q(MISSING_IMAGE_QUESTION, 3, 'Is there a triangle?')]
  annotations = [a(1001, 1, ['red'] * 10),
                 a(1002, 1, ['yes'] * 10, 'yes/no', 'is the'),
                 a(2001, 2, ['2'] * 10, 'number', 'how many'),
                 a(MISSING_IMAGE_QUESTION, 3, ['yes'] * 10, 'yes/no',
                   'is there a')]
  images = {1: image_files.rgb_jpeg(), 2: image_files.grayscale_jpeg()}
  vqa_files.write_split(data_dir, 'train2014', questions, annotations, images)


def _val_split(data_dir):
  q, a = vqa_files.question, vqa_files.annotation
  questions = [q(100001, 100, 'What color is the square?'),
               q(100002, 100, 'Is it blue?')]
  annotations = [a(100001, 100, ['red'] * 10),
                 a(100002, 100, ['no'] * 10, 'yes/no', 'is it')]
  vqa_files.write_split(data_dir, 'val2014', questions, annotations,
                        {100: image_files.rgb_jpeg(color=(20, 20, 200))})


def _config(**overrides):
  values = dict(data_dir=DATA_DIR, output=OUTPUT, splits=SPLITS,
                top_answers=3, max_question_tokens=L, image_size=32,
                num_shards=NUM_SHARDS)
  values.update(overrides)
  return preprocess.PreprocessConfig(**values)


@pytest.fixture(scope='module')
def emulator(tmp_path_factory):
  """A fake-gcs-server for the module, with the environment pointing at it.

  Module scoped: Beam caches the credentials it finds once per process, so the
  variables are set before the first gs:// access and kept for every test.
  """
  with gcs_emulator.GcsEmulator(tmp_path_factory.mktemp('gcs')) as server:
    with pytest.MonkeyPatch.context() as patch:
      for name, value in server.environment().items():
        patch.setenv(name, value)
      server.make_bucket('vqa-in')
      server.make_bucket('vqa-out')
      yield server


@pytest.fixture(scope='module')
def run(emulator, tmp_path_factory):
  """Uploads the data set and runs the pipeline gs:// to gs:// once."""
  local = tmp_path_factory.mktemp('vqa')
  _train_split(str(local))
  _val_split(str(local))
  emulator.upload_dir(local, DATA_DIR)
  metadata, counters = preprocess.run_preprocess(_config(), IN_MEMORY)
  return metadata.to_json(), counters


def shard_paths(split):
  return [f'{OUTPUT}/{split}/part-{i:05d}-of-{NUM_SHARDS:05d}.tfrecord.gz'
          for i in range(NUM_SHARDS)]


def read_records(emulator, split, directory, num_answers=3):
  """Downloads a split's shards into `directory`; {question id: features}."""
  files = []
  for path in shard_paths(split):
    local = directory / path.rsplit('/', 1)[1]
    local.write_bytes(emulator.download(path))
    files.append(str(local))
  return records_lib.parse_shards(files, L, num_answers)


def download_json(emulator, path):
  return json.loads(emulator.download(path))


def read_rejected(emulator, split):
  rejected = {}
  for path in emulator.list(record_spec.rejected_prefix(OUTPUT, split) + '-'):
    for line in emulator.download(path).decode().splitlines():
      record = json.loads(line)
      rejected.setdefault(record['reason'], []).append(record['question_id'])
  return rejected


def tokenizer_paths(metadata):
  return [f'{record_spec.tokenizer_dir(OUTPUT)}/{name}'
          for name in metadata['tokenizer']['files']]


def test_every_output_object_is_written_once_under_its_final_name(
    emulator, run):
  metadata, _ = run
  assert emulator.list(OUTPUT + '/') == sorted(
      [record_spec.answers_path(OUTPUT), record_spec.metadata_path(OUTPUT)]
      + [record_spec.rejected_prefix(OUTPUT, s) + '-00000-of-00001.jsonl'
         for s in SPLITS]
      + shard_paths('train2014') + shard_paths('val2014')
      + tokenizer_paths(metadata))


def test_tokenizer_files_are_kept_next_to_the_records(emulator, run):
  metadata, _ = run
  assert metadata['tokenizer']['dir'] == record_spec.tokenizer_dir(OUTPUT)
  bundled = tokenization.resolve_tokenizer_files(tokenization.DEFAULT_TOKENIZER)
  for path in tokenizer_paths(metadata):
    assert emulator.download(path) == bundled[path.rsplit('/', 1)[1]]


@pytest.mark.parametrize('split', SPLITS)
def test_records_parse_with_the_trainer_contract(emulator, run, split,
                                                 tmp_path):
  del run
  records = read_records(emulator, split, tmp_path)
  assert sorted(records) == EXPECTED_IDS[split]
  for record in records.values():
    image = tf.io.decode_jpeg(record[record_spec.IMAGE_ENCODED]).numpy()
    assert image.shape == (32, 32, 3)


def test_labels_follow_the_answers_written_to_gcs(emulator, run, tmp_path):
  del run
  answers = download_json(emulator, record_spec.answers_path(OUTPUT))['answers']
  assert answers == ['yes', '2', 'red']  # yes x2, then ties by name.
  train = read_records(emulator, 'train2014', tmp_path)
  assert train[1001][record_spec.ANSWER_LABEL] == answers.index('red')
  val = read_records(emulator, 'val2014', tmp_path)
  assert val[100002][record_spec.ANSWER_LABEL] == record_spec.UNLABELLED  # 'no'


def test_metadata_on_gcs_accounts_for_every_question(emulator, run):
  metadata, counters = run
  assert download_json(emulator, record_spec.metadata_path(OUTPUT)) == metadata
  counts = metadata['counts']
  for split in SPLITS:
    entry = counts[split]
    assert entry['written'] + sum(entry['rejected'].values()) + sum(
        entry['filtered'].values()) == entry['questions']
    assert accounting.unaccounted(entry) == 0
  assert counts['train2014']['questions'] == 4
  assert counts['train2014']['written'] == 3
  assert counts['train2014']['rejected'] == {accounting.MISSING_IMAGE: 1}
  assert counts['val2014']['written'] == 2
  # Image 1 serves two questions and is read once.
  assert counts['train2014']['events'][accounting.IMAGES_READ] == 3
  assert counters['train2014/written'] == 3
  assert metadata['shards']['train2014'] == record_spec.shard_glob(OUTPUT,
                                                                'train2014')


def test_rejected_jsonl_lists_the_missing_image_question(emulator, run):
  del run
  assert read_rejected(emulator, 'train2014') == {
      accounting.MISSING_IMAGE: [MISSING_IMAGE_QUESTION]}
  assert read_rejected(emulator, 'val2014') == {}


def test_existing_gcs_output_is_kept_without_overwrite(run):
  del run
  with pytest.raises(preprocess.ConfigError, match='already holds'):
    preprocess.run_preprocess(_config(), IN_MEMORY)


def test_missing_gcs_input_fails_before_the_pipeline_starts(emulator):
  missing = 'gs://vqa-in/nowhere'
  output = 'gs://vqa-out/never'
  with pytest.raises(preprocess.ConfigError) as error:
    preprocess.run_preprocess(_config(data_dir=missing, output=output),
                              IN_MEMORY)
  assert f'{missing}/v2_OpenEnded_mscoco_train2014_questions.json' in str(
      error.value)
  assert emulator.list(output + '/') == []


def test_tokenizer_directory_on_gcs(emulator):
  vocab = (tokenization.bundled_tokenizer_dir() + '/'
           + tokenization.REQUIRED_FILE)
  with open(vocab, 'rb') as f:
    content = f.read()
  emulator.upload(content, f'gs://vqa-in/tok/{tokenization.REQUIRED_FILE}')
  assert tokenization.resolve_tokenizer_files('gs://vqa-in/tok') == {
      tokenization.REQUIRED_FILE: content}
