"""The deployable artefacts behind `vqa serve`: exported SavedModels
(MODEL_DIR/export) and TFLite files, each answering encoded image bytes and a
question with its top answers, probabilities and the time it took.

A SavedModel does its own tokenisation and image decoding (its signature
takes raw bytes and text). A .tflite file takes token ids and pixels, so the
same TensorFlow ops (export.RawInputEncoder) run in front of it, with the
tokenizer and answers of its MODEL_DIR (when the file lies in
MODEL_DIR/tflite/) or of the data folder (--data).
"""
import dataclasses
import os
import threading
import time

import tensorflow as tf

from trainer.contract import dataset_info
from trainer.contract import errors
from trainer.contract import record_spec
from trainer.serve import export
from trainer.models import model_io
from trainer.serve import predict
from trainer.data import sample_questions
from trainer.serve import tflite_export

SAVED_MODEL = 'savedmodel'
TFLITE = 'tflite'
TOP_K = export.DEFAULT_TOP_K


@dataclasses.dataclass(frozen=True)
class Answered:
  """One model's answer to one question."""
  answers: list  # [(answer, probability)], best first
  milliseconds: float


def _timed(call):
  start = time.perf_counter()
  result = call()
  return result, 1000 * (time.perf_counter() - start)


class SavedModelBackend:
  """MODEL_DIR/export's serving signature, as `vqa predict` runs it."""

  kind = SAVED_MODEL

  def __init__(self, name, model_dir):
    self.name, self.path = name, model_dir
    self._serve = predict.load_serving_function(model_dir)
    self._lock = threading.Lock()

  def answer(self, image_bytes, question):
    with self._lock:
      outputs, milliseconds = _timed(lambda: self._serve(
          image_bytes=tf.constant([image_bytes]),
          question=tf.constant([question])))
    answers = [(a.decode(), float(p)) for a, p in zip(
        outputs['answers'].numpy()[0], outputs['probabilities'].numpy()[0])]
    return Answered(answers, milliseconds)


@dataclasses.dataclass(frozen=True)
class TFLiteInputs:
  """What a .tflite file needs beside it: answers, tokenizer, sizes."""
  answers: tuple
  tokenizer_dir: str
  max_question_tokens: int
  image_size: int
  source: str  # the file that lists the answers (config.json, answers.json)


def tflite_inputs(path, data_dir=None):
  """The answers, tokenizer and sizes of a .tflite file.

  Raises:
    ValueError: the file is outside a MODEL_DIR and no data folder is given.
  """
  model_dir = tflite_export.model_dir_of(path)
  if model_dir:
    saved = model_io.read_saved_config(model_dir)
    return TFLiteInputs(saved.answers,
                        os.path.join(model_dir, model_io.TOKENIZER_DIR),
                        saved.max_question_tokens, saved.image_size,
                        os.path.join(model_dir, model_io.CONFIG_FILE))
  if not data_dir:
    raise errors.UserError(f'{path}: a .tflite file outside a MODEL_DIR/tflite/ '
                     'folder has no answers or tokenizer beside it; give '
                     '--data (the `vqa preprocess` output it was trained on)')
  vocabulary, metadata = dataset_info.read_dataset_info(data_dir)
  return TFLiteInputs(vocabulary.answers, record_spec.tokenizer_dir(data_dir),
                      metadata.max_question_tokens, metadata.image_size,
                      record_spec.answers_path(data_dir))


class TFLiteBackend:
  """A .tflite file run with the TFLite interpreter, behind the same ops
  that tokenise and decode in the SavedModel's signature."""

  kind = TFLITE

  def __init__(self, name, path, data_dir=None):
    self.name, self.path = name, path
    facts = tflite_inputs(path, data_dir)
    self._runner = tflite_export.TFLiteRunner(path)
    model_io.check_same_answers(self._runner.num_answers, path, facts.answers,
                                facts.source)
    self._answers = facts.answers
    self._encoder = export.RawInputEncoder(
        facts.tokenizer_dir, facts.max_question_tokens, facts.image_size)
    self._lock = threading.Lock()  # an interpreter is not thread-safe

  def _logits(self, image_bytes, question):
    inputs = self._encoder.model_inputs(
        tf.constant([image_bytes]), tf.constant([question]),
        self._runner.uses_image)
    return self._runner.logits({name: tensor.numpy()
                                for name, tensor in inputs.items()})

  def answer(self, image_bytes, question):
    with self._lock:
      logits, milliseconds = _timed(
          lambda: self._logits(image_bytes, question))
    [answers] = sample_questions.top_answers(logits, self._answers, TOP_K)
    return Answered(answers, milliseconds)


def load_backend(name, path, data_dir=None):
  """A backend for a MODEL_DIR (its export/) or a .tflite file."""
  if not tf.io.gfile.exists(path):
    raise errors.UserError(f'--models {name}={path}: {path} does not exist')
  if path.endswith('.tflite'):
    return TFLiteBackend(name, path, data_dir)
  try:
    return SavedModelBackend(name, path)
  except FileNotFoundError as e:
    raise errors.UserError(f'--models {name}={path}: {e} (`vqa train`, `vqa '
                     'distill` and `vqa prune` write MODEL_DIR/export)'
                     ) from e


def load_backends(specs, data_dir=None):
  """[backend] for ((name, path), ...), in the order given."""
  return [load_backend(name, path, data_dir) for name, path in specs]


def describe(backend):
  return {'name': backend.name, 'kind': backend.kind, 'path': backend.path}
