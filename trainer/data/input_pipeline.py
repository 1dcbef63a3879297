"""tf.data input from the preprocessed shards: pure dict -> dict steps.

Files are read in parallel (interleave), parsed and JPEG-decoded in parallel,
shuffled, batched with the *global* batch size and prefetched; everything is
AUTOTUNE. `deterministic=True` fixes the order (tests, reproducible eval).
"""
import dataclasses
import functools

import tensorflow as tf

from trainer.contract import dataset_info
from trainer.contract import errors
from trainer.contract import record_spec
from trainer.data import targets as targets_lib

AUTOTUNE = tf.data.AUTOTUNE

# Model input names.
INPUT_IDS = 'input_ids'
ATTENTION_MASK = 'attention_mask'
IMAGE = 'image'


@dataclasses.dataclass(frozen=True)
class DataSpec:
  """What the records of a preprocessed folder look like."""
  data_dir: str
  answers: tuple
  max_question_tokens: int
  image_size: int
  metadata: dataset_info.DatasetMetadata

  @property
  def num_answers(self):
    return len(self.answers)

  @property
  def answers_path(self):
    return record_spec.answers_path(self.data_dir)


def read_data_spec(data_dir):
  """Reads answers.json and metadata.json of a `vqa preprocess` output."""
  vocabulary, metadata = dataset_info.read_dataset_info(data_dir)
  return DataSpec(data_dir=data_dir, answers=vocabulary.answers,
                  max_question_tokens=metadata.max_question_tokens,
                  image_size=metadata.image_size, metadata=metadata)


def shard_files(data_dir, split):
  files = sorted(tf.io.gfile.glob(record_spec.shard_glob(data_dir, split)))
  if not files:
    raise errors.MissingInput(
        f'{record_spec.shard_glob(data_dir, split)}: no shards; was split '
        f'{split!r} preprocessed into {data_dir}?')
  return files


# libjpeg's accurate integer DCT: the decoder Pillow uses (the Beam
# pipeline, the LiteRT bundle), so that training, the SavedModel and the
# bundle see the same pixels. TensorFlow's default (INTEGER_FAST) differs
# from it by up to 7 grey levels, which changed 1.6% of a student's answers
# between its SavedModel and its fp32 bundle (benchmarks/RESULTS.md).
JPEG_DCT_METHOD = 'INTEGER_ACCURATE'


def decode_jpeg(data):
  """JPEG bytes -> [H, W, 3] uint8, as Pillow decodes them."""
  return tf.io.decode_jpeg(data, channels=3, dct_method=JPEG_DCT_METHOD)


def decode_record(example, decode_image=True):
  """Parsed Example -> model features plus what evaluation needs."""
  features = {
      INPUT_IDS: tf.cast(example[record_spec.QUESTION_INPUT_IDS], tf.int32),
      ATTENTION_MASK: tf.cast(example[record_spec.QUESTION_ATTENTION_MASK],
                              tf.int32),
      'question_id': example[record_spec.QUESTION_ID],
      'image_id': example[record_spec.IMAGE_ID],
      'answer_type': example[record_spec.ANSWER_TYPE],
      'label': example[record_spec.ANSWER_LABEL],
      'scores': example[record_spec.ANSWER_SCORES],
  }
  if decode_image:
    image = decode_jpeg(example[record_spec.IMAGE_ENCODED])
    features[IMAGE] = tf.ensure_shape(image, [None, None, 3])
  return features


def labelled_or_unannotated(example):
  """A parsed Example with a label, or one without any human answer."""
  annotated = tf.reduce_any(tf.not_equal(example[record_spec.ANSWER_HUMAN], b''))
  return tf.logical_or(example[record_spec.ANSWER_LABEL] >= 0,
                       tf.logical_not(annotated))


def set_image_shape(features, image_size):
  if IMAGE not in features:
    return features
  features = dict(features)
  features[IMAGE] = tf.ensure_shape(features[IMAGE],
                                    [image_size, image_size, 3])
  return features


def to_model_inputs(features):
  """(inputs, packed targets) for Keras fit/evaluate."""
  inputs = {name: features[name] for name in (INPUT_IDS, ATTENTION_MASK,
                                               IMAGE) if name in features}
  return inputs, targets_lib.pack(features['label'], features['scores'])


def make_dataset(spec, split, global_batch_size, *, training,
                 deterministic=False, seed=0, for_keras=True,
                 drop_labelless=False, decode_images=True):
  """The batched dataset of one split (or several, mixed).

  Args:
    spec: DataSpec of the preprocessed folder.
    split: e.g. 'train2014', or a tuple of splits read together.
    global_batch_size: per-replica batch size x number of replicas.
    training: shuffle (with `seed`) and repeat forever.
    deterministic: keep file and element order fixed.
    seed: shuffle seed.
    for_keras: yield (inputs, targets) pairs; else the full feature dicts.
    drop_labelless: drop annotated questions without label (label -1: no
      human answer in the vocabulary); unannotated questions (no human
      answers, as in test splits) stay, for distillation from the teacher's
      answers alone.
    decode_images: False skips JPEG decoding (text-only passes).

  Returns:
    A tf.data.Dataset.
  """
  splits = (split,) if isinstance(split, str) else tuple(split)
  files = [path for name in splits for path in shard_files(spec.data_dir, name)]
  options = tf.data.Options()
  options.deterministic = deterministic
  dataset = tf.data.Dataset.from_tensor_slices(files)
  if training:
    dataset = dataset.shuffle(len(files), seed=seed)
  dataset = dataset.interleave(
      lambda path: tf.data.TFRecordDataset(path, compression_type='GZIP'),
      cycle_length=min(len(files), 8), num_parallel_calls=AUTOTUNE,
      deterministic=deterministic)
  if training:
    dataset = dataset.shuffle(4096, seed=seed).repeat()
  dataset = dataset.batch(global_batch_size, drop_remainder=training)
  dataset = dataset.map(
      lambda records: record_spec.parse_examples(
          records, spec.max_question_tokens, spec.num_answers),
      num_parallel_calls=AUTOTUNE, deterministic=deterministic)
  dataset = dataset.unbatch()
  if drop_labelless:
    dataset = dataset.filter(labelled_or_unannotated)
  dataset = dataset.map(
      lambda example: set_image_shape(decode_record(example, decode_images),
                                      spec.image_size),
      num_parallel_calls=AUTOTUNE, deterministic=deterministic)
  dataset = dataset.batch(global_batch_size, drop_remainder=training)
  if for_keras:
    dataset = dataset.map(to_model_inputs, num_parallel_calls=AUTOTUNE)
  return dataset.with_options(options).prefetch(AUTOTUNE)


def damaged_shards(data_dir):
  """'path (reason)' for every shard of every split that does not read to
  its end (a truncated or corrupt gzip file, a damaged record)."""
  damaged = []
  for split in dataset_info.read_metadata(data_dir).splits:
    for path in tf.io.gfile.glob(record_spec.shard_glob(data_dir, split)):
      try:
        for _ in tf.data.TFRecordDataset(path, 'GZIP').batch(4096):
          pass
      except tf.errors.DataLossError as e:
        # The message's first line without TensorFlow's op names.
        reason = e.message.splitlines()[0].split('}} ')[-1]
        damaged.append(f'{path} ({reason.split(" [Op:")[0][:200]})')
  return sorted(damaged)


def names_damaged_shards(job):
  """Wraps `job(config, ...)`: a DataLossError while it reads config.data's
  records becomes a ValueError naming the damaged shards."""

  @functools.wraps(job)
  def wrapped(config, *args, **kwargs):
    try:
      return job(config, *args, **kwargs)
    except tf.errors.DataLossError as e:
      damaged = damaged_shards(config.data)
      if not damaged:
        raise
      raise errors.UserError(f'{config.data}: damaged shards: {"; ".join(damaged)}; '
                       'run `vqa preprocess` again (--overwrite)') from e

  return wrapped


def count_examples(spec, split):
  """Questions written for `split` (or a tuple of splits), from
  metadata.json."""
  splits = (split,) if isinstance(split, str) else split
  return sum(spec.metadata.written(name) for name in splits)
