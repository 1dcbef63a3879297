"""The student's compact vocabulary: the wordpieces its training questions use.

The records hold ids of the full WordPiece vocabulary (30,522 for BERT), but
the training questions use a few hundred of them on the sample data and about
ten thousand on VQA v2. A student embedding only those (plus the special
tokens) is a fraction of the size; the full tokenizer still splits the
question, and the model maps each full id to its compact id in the graph
(trainer/models/student.py's TokenRemap), any other wordpiece to [UNK].

The compact ids are the full ids' ranks: [PAD] (full id 0) stays 0.
"""
import dataclasses
import os

import numpy as np
import tensorflow as tf

from trainer.contract import errors
from trainer.contract import record_spec
from trainer.data import input_pipeline

UNKNOWN = '[UNK]'
# BERT's special tokens: always kept, whatever the questions use.
SPECIAL_TOKENS = ('[PAD]', UNKNOWN, '[CLS]', '[SEP]', '[MASK]')


@dataclasses.dataclass(frozen=True)
class CompactVocabulary:
  """The full ids kept, in order; compact id = position in `ids`."""
  ids: tuple
  tokens: tuple  # the wordpieces of `ids`, for a reader of the file
  full_size: int  # the full vocabulary's size: the table's length
  unknown_id: int  # the compact id of [UNK]

  @property
  def size(self):
    return len(self.ids)

  def remap_table(self):
    """[full_size] int32: full id -> compact id ([UNK]'s when not kept)."""
    table = np.full([self.full_size], self.unknown_id, np.int32)
    table[list(self.ids)] = np.arange(self.size, dtype=np.int32)
    return table

  def to_json(self):
    return {'full_size': self.full_size, 'unknown_id': self.unknown_id,
            'ids': list(self.ids), 'tokens': list(self.tokens)}

  @classmethod
  def from_json(cls, values, source):
    try:
      vocabulary = cls(ids=tuple(values['ids']),
                       tokens=tuple(values['tokens']),
                       full_size=int(values['full_size']),
                       unknown_id=int(values['unknown_id']))
    except (KeyError, TypeError, ValueError) as e:
      raise errors.UserError(f'{source}: not a compact vocabulary ({e!r})'
                             ) from e
    if not vocabulary.ids or max(vocabulary.ids) >= vocabulary.full_size:
      raise errors.UserError(f'{source}: ids outside the full vocabulary of '
                             f'{vocabulary.full_size}')
    return vocabulary


def read_vocab_file(tokenizer_dir):
  """The full WordPiece vocabulary (vocab.txt), one token per id."""
  path = os.path.join(tokenizer_dir, 'vocab.txt')
  if not tf.io.gfile.exists(path):
    raise errors.MissingInput(f'{path}: not found')
  with tf.io.gfile.GFile(path) as f:
    return f.read().splitlines()


def question_token_ids(spec, splits, batch_size=4096):
  """The sorted distinct token ids of the questions of `splits`."""
  dataset = input_pipeline.make_dataset(
      spec, splits, batch_size, training=False, deterministic=True,
      for_keras=False, decode_images=False)
  seen = np.zeros([spec.metadata.tokenizer.vocab_size], bool)
  for batch in dataset:
    ids = batch[input_pipeline.INPUT_IDS].numpy()
    seen[ids[batch[input_pipeline.ATTENTION_MASK].numpy() > 0]] = True
  return np.flatnonzero(seen).tolist()


def build_compact_vocabulary(spec, splits):
  """The wordpieces of the questions of `splits` plus the special tokens."""
  tokens = read_vocab_file(record_spec.tokenizer_dir(spec.data_dir))
  missing = [token for token in SPECIAL_TOKENS if token not in tokens]
  if missing:
    raise errors.UserError(f'{spec.data_dir}: the tokenizer has no '
                           f'{missing}: not a BERT WordPiece vocabulary')
  kept = set(question_token_ids(spec, splits))
  kept.update(tokens.index(token) for token in SPECIAL_TOKENS)
  ids = tuple(sorted(kept))
  return CompactVocabulary(ids=ids, tokens=tuple(tokens[i] for i in ids),
                           full_size=len(tokens),
                           unknown_id=ids.index(tokens.index(UNKNOWN)))
