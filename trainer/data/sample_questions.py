"""A split's questions as examples: read from the records, made into model
inputs, answered. `vqa serve` lets users pick them; `vqa report` shows a few.

A split is named by the user (a form field, a URL): only the splits listed in
the folder's metadata.json are read, and never through a path that leaves the
data folder.
"""
import dataclasses
import os

import numpy as np
import tensorflow as tf

from trainer.contract import errors
from trainer.contract import record_spec
from trainer.data import input_pipeline


class SplitRefused(errors.UserError):
  """A split name that is not one of the data folder's splits, or whose
  records would be read from outside the data folder."""


@dataclasses.dataclass(frozen=True)
class SplitQuestion:
  """One question of a split, with its image and ground truth."""
  split: str
  question_id: int
  image_id: int
  question: str
  image_jpeg: bytes
  human_answers: tuple  # the ten normalised human answers; () if unlabelled
  answer_type: str
  input_ids: np.ndarray  # [L] as the records hold them
  attention_mask: np.ndarray  # [L]

  def summary(self):
    """What the JSON API says about the question (no image bytes)."""
    return {'split': self.split, 'question_id': self.question_id,
            'image_id': self.image_id, 'question': self.question,
            'answers': list(self.human_answers),
            'answer_type': self.answer_type}


def _is_local(path):
  return '://' not in path


def _inside(path, folder):
  path, folder = os.path.realpath(path), os.path.realpath(folder)
  return os.path.commonpath([path, folder]) == folder


def checked_split(spec, split):
  """`split` if it is one of spec's splits and its shards lie inside the data
  folder (symbolic links followed); else SplitRefused.

  Raises:
    SplitRefused: naming the splits the folder holds.
  """
  splits = spec.metadata.splits
  if (not isinstance(split, str) or split not in splits or
      split in ('.', '..') or '/' in split or '\\' in split or '\0' in split):
    raise SplitRefused(f'split {split!r} is not one of the splits of '
                       f'{spec.data_dir}: {splits}')
  folder = record_spec.shard_dir(spec.data_dir, split)
  if _is_local(spec.data_dir) and not _inside(folder, spec.data_dir):
    raise SplitRefused(f'split {split!r}: {folder} lies outside the data '
                       f'folder {spec.data_dir}')
  return split


def _text(value):
  return value.decode('utf-8') if isinstance(value, bytes) else str(value)


def _question(split, values):
  human = tuple(_text(a) for a in values[record_spec.ANSWER_HUMAN] if a)
  return SplitQuestion(
      split=split, question_id=int(values[record_spec.QUESTION_ID]),
      image_id=int(values[record_spec.IMAGE_ID]),
      question=_text(values[record_spec.QUESTION_TEXT]),
      image_jpeg=bytes(values[record_spec.IMAGE_ENCODED]),
      human_answers=human, answer_type=_text(values[record_spec.ANSWER_TYPE]),
      input_ids=values[record_spec.QUESTION_INPUT_IDS],
      attention_mask=values[record_spec.QUESTION_ATTENTION_MASK])


def read_questions(spec, split, limit):
  """The first `limit` questions of `split`, shard by shard, in file order.

  Raises:
    SplitRefused: see checked_split.
    FileNotFoundError: the split has no shards.
  """
  checked_split(spec, split)
  files = input_pipeline.shard_files(spec.data_dir, split)
  dataset = tf.data.TFRecordDataset(files, compression_type='GZIP').take(limit)
  dataset = dataset.map(lambda record: record_spec.parse_examples(
      record, spec.max_question_tokens, spec.num_answers))
  return [_question(split, {name: value.numpy() for name, value in
                            example.items()}) for example in dataset]


def model_inputs(questions, uses_image):
  """Numpy model inputs [B, ...] of the questions, as the records encode
  them (token ids from the records, pixels of the stored JPEG)."""
  inputs = {
      input_pipeline.INPUT_IDS: np.stack(
          [q.input_ids for q in questions]).astype(np.int32),
      input_pipeline.ATTENTION_MASK: np.stack(
          [q.attention_mask for q in questions]).astype(np.int32)}
  if uses_image:
    inputs[input_pipeline.IMAGE] = np.stack(
        [input_pipeline.decode_jpeg(q.image_jpeg).numpy()
         for q in questions])
  return inputs


def top_answers(logits, answers, k):
  """[[(answer, probability)] * k] per row of [B, K] logits, best first."""
  logits = np.asarray(logits, dtype=np.float64)
  shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
  probabilities = shifted / shifted.sum(axis=-1, keepdims=True)
  k = min(k, probabilities.shape[-1])
  best = np.argsort(-probabilities, axis=-1, kind='stable')[:, :k]
  return [[(answers[i], float(row[i])) for i in indices]
          for row, indices in zip(probabilities, best)]
