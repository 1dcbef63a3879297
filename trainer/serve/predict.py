"""`vqa predict`: ask the exported model a question about a picture.

  vqa predict --model MODEL_DIR --image photo.jpg --question "What color is the bus?"
  vqa predict --model MODEL_DIR --batch questions.jsonl   # {"image": ..., "question": ...} per line

Uses only MODEL_DIR/export (the SavedModel), as a deployment would.
"""
import dataclasses
import json
import os

import tensorflow as tf
import tensorflow_text  # pylint: disable=unused-import  (registers the tokenizer ops)

from trainer.contract import errors
from trainer.serve import export


@dataclasses.dataclass(frozen=True)
class PredictConfig:
  """A `vqa predict` job: one question (image + question) or a batch."""
  model_dir: str = dataclasses.field(default='', metadata={
      'flag': '--model',
      'required': True, 'help': 'MODEL_DIR'})
  image: str = ''
  question: str = ''
  batch: str = dataclasses.field(default='', metadata={
      'help': 'JSONL file of {"image", "question"}'})

  def check(self):
    if bool(self.batch) == bool(self.image and self.question):
      raise errors.UserError('give either --image and --question, or --batch')


def load_serving_function(model_dir):
  path = os.path.join(model_dir, export.EXPORT_DIR)
  if not tf.io.gfile.exists(path):
    raise errors.MissingInput(f'{path}: no exported model; train it first')
  return tf.saved_model.load(path).signatures[export.SIGNATURE]


def read_requests(batch_path):
  """[(image path, question)] from a JSONL file."""
  requests = []
  with tf.io.gfile.GFile(batch_path) as f:
    for number, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        item = json.loads(line)
        requests.append((item['image'], item['question']))
      except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise errors.UserError(f'{batch_path}:{number}: expected '
                         f'{{"image": path, "question": text}} ({e})') from e
  return requests


def predict(serve, requests):
  """[(question, [(answer, probability)])] for [(image path, question)]."""
  images = []
  for path, _ in requests:
    with tf.io.gfile.GFile(path, 'rb') as f:
      images.append(f.read())
  outputs = serve(image_bytes=tf.constant(images),
                  question=tf.constant([q for _, q in requests]))
  answers = outputs['answers'].numpy()
  probabilities = outputs['probabilities'].numpy()
  return [(question, [(a.decode(), float(p)) for a, p in zip(row_a, row_p)])
          for (_, question), row_a, row_p in zip(requests, answers,
                                                  probabilities)]


def run(config):
  """[(question, [(answer, probability), ...])] for the config's requests."""
  config.check()
  requests = (read_requests(config.batch) if config.batch
              else [(config.image, config.question)])
  return predict(load_serving_function(config.model_dir), requests)
