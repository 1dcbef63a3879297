"""Inference over batches of records: model inputs in, numpy logits out.

A teacher's cost is almost all its text encoder (BERT), and VQA asks the same
question texts again and again (on the demo's validation split, 47 distinct
questions among 4000). `QuestionMemoLogits` encodes each distinct question
once and runs only the head (and the image branch) per question: the same
logits as the full model, to float rounding. Students and models without
their layers run whole, through one tf.function.
"""
import numpy as np
import tensorflow as tf

from trainer.data import input_pipeline
from trainer.models import multimodal

TEXT_INPUTS = (input_pipeline.INPUT_IDS, input_pipeline.ATTENTION_MASK)
# Distinct questions kept before the memo starts again (384 floats each:
# about 150 MB at this size).
MEMO_LIMIT = 100_000


def traced(model):
  """`model` at inference as one tf.function over its inputs, the batch
  dimension left open (one trace serves every batch size); numpy out."""
  signature = multimodal.input_signature(model)
  call = tf.function(lambda inputs: model(inputs, training=False),
                     input_signature=[signature])
  return lambda inputs: call(
      {name: tf.convert_to_tensor(inputs[name]) for name in signature}
  ).numpy()


def _question_keys(input_ids, attention_mask):
  """One bytes key per row: its token ids and mask together."""
  rows = np.concatenate([input_ids, attention_mask], axis=1)
  return [row.tobytes() for row in rows]


class QuestionMemoLogits:
  """A teacher's logits with each distinct question encoded once.

  Call with a batch of model inputs (tensors or arrays); returns [B, K]
  numpy logits. `encoded_questions` counts the rows the text encoder ran on.
  """

  def __init__(self, layers, max_question_tokens, limit=MEMO_LIMIT):
    self._encode = traced(multimodal.text_encoder_model(layers,
                                                        max_question_tokens))
    self._head = traced(multimodal.head_model(
        layers, max_question_tokens, cache_text=True, cache_image=False))
    self._uses_image = layers.config.uses_image
    self._limit = limit
    self._memo = {}
    self.encoded_questions = 0

  def _encode_new(self, keys, input_ids, attention_mask):
    """Encodes the rows whose key the memo lacks (each distinct one once)."""
    first = {}
    for index, key in enumerate(keys):
      if key not in self._memo:
        first.setdefault(key, index)
    if not first:
      return
    if len(self._memo) + len(first) > self._limit:
      self._memo.clear()
      first = {}
      for index, key in enumerate(keys):
        first.setdefault(key, index)
    rows = np.fromiter(first.values(), dtype=np.int64)
    features = self._encode({input_pipeline.INPUT_IDS: input_ids[rows],
                             input_pipeline.ATTENTION_MASK:
                                 attention_mask[rows]})
    self._memo.update(zip(first, features))
    self.encoded_questions += len(rows)

  def text_features(self, input_ids, attention_mask):
    """[B, H] pooled text features of a batch's questions."""
    input_ids = np.asarray(input_ids, dtype=np.int32)
    attention_mask = np.asarray(attention_mask, dtype=np.int32)
    keys = _question_keys(input_ids, attention_mask)
    self._encode_new(keys, input_ids, attention_mask)
    return np.stack([self._memo[key] for key in keys])

  def __call__(self, inputs):
    head_inputs = {multimodal.TEXT_FEATURES: self.text_features(
        *(inputs[name] for name in TEXT_INPUTS))}
    if self._uses_image:
      head_inputs[input_pipeline.IMAGE] = inputs[input_pipeline.IMAGE]
    return self._head(head_inputs)


def logits_function(model, layers=None, max_question_tokens=None,
                    whole=None):
  """Batch of model inputs -> numpy logits: a teacher (given its `layers`)
  encodes each distinct question once; any other model runs whole (`whole`:
  its traced() function when the caller has one already)."""
  if layers is None:
    return whole or traced(model)
  return QuestionMemoLogits(layers, max_question_tokens)


def loaded_logits(loaded, whole=None):
  """logits_function of a model_io.LoadedModel."""
  return logits_function(loaded.model, loaded.layers,
                         loaded.max_question_tokens, whole)
