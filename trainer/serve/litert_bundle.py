"""A LiteRT bundle: a folder that answers VQA questions without TensorFlow.

`vqa export-tflite` writes it (trainer/serve/tflite_export.py's
write_bundle); `vqa predict --tflite BUNDLE` answers from it with
ai-edge-litert, tokenizers and Pillow only:

  BUNDLE/
    model.tflite     token ids and pixels in, logits out (a student's compact
                     vocabulary is remapped inside it)
    tokenizer.json   the WordPiece tokenizer the records were encoded with
    bundle.json      answers, image size, question length, the inputs
    README.md        the inputs and outputs, and how to run it

The question is tokenised as the records were ([CLS] pieces [SEP], cut to
max_question_tokens, padded with 0) and the image decoded and resized as the
pipeline does (Pillow, antialiased bilinear), so the model sees what it was
trained on.
"""
import dataclasses
import io
import json
import os

import numpy as np

from trainer.contract import errors
from trainer.serve import predict_inputs
from trainer.serve import litert_runner

MODEL_FILE = 'model.tflite'
TOKENIZER_FILE = 'tokenizer.json'
BUNDLE_FILE = 'bundle.json'
README_FILE = 'README.md'
PAD_ID = 0  # the record contract pads with 0 whatever the tokenizer says
TOP_K = 5


@dataclasses.dataclass(frozen=True)
class BundleFacts:
  """bundle.json, typed."""
  answers: tuple
  image_size: int
  max_question_tokens: int
  quantize: str = ''
  source_model: str = ''

  def to_json(self):
    return dataclasses.asdict(self)


def _read_text(path):
  if not os.path.exists(path):
    raise errors.MissingInput(f'{path}: not found; is the folder a bundle '
                              'written by `vqa export-tflite`?')
  with open(path, encoding='utf-8') as f:
    return f.read()


def read_facts(bundle_dir):
  """BundleFacts of BUNDLE/bundle.json; errors name the file and the key."""
  path = os.path.join(bundle_dir, BUNDLE_FILE)
  try:
    values = json.loads(_read_text(path))
    return BundleFacts(answers=tuple(values['answers']),
                       image_size=int(values['image_size']),
                       max_question_tokens=int(values['max_question_tokens']),
                       quantize=values.get('quantize', ''),
                       source_model=values.get('source_model', ''))
  except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
    raise errors.UserError(f'{path}: not a bundle description ({e!r})') from e


class QuestionEncoder:
  """Questions -> (input_ids, attention_mask), [B, L] int32, as the records."""

  def __init__(self, tokenizer_json, max_question_tokens):
    import tokenizers  # pylint: disable=g-import-not-at-top
    self._tokenizer = tokenizers.Tokenizer.from_str(tokenizer_json)
    self._tokenizer.no_truncation()
    self._tokenizer.no_padding()
    self._sep_id = self._tokenizer.token_to_id('[SEP]')
    self.max_tokens = max_question_tokens

  def encode(self, questions):
    ids = np.full([len(questions), self.max_tokens], PAD_ID, np.int32)
    for row, encoding in enumerate(self._tokenizer.encode_batch(
        list(questions), add_special_tokens=True)):
      pieces = encoding.ids
      if len(pieces) > self.max_tokens:  # keep [SEP] last, as the records
        pieces = pieces[:self.max_tokens - 1] + [self._sep_id]
      ids[row, :len(pieces)] = pieces
    return ids, (ids != PAD_ID).astype(np.int32)


def square_pixels(data, image_size):
  """Encoded image bytes -> [S, S, 3] uint8, resized as the pipeline does
  (beam_pipelines/images.py)."""
  from PIL import Image, ImageOps  # pylint: disable=g-import-not-at-top
  with Image.open(io.BytesIO(data)) as image:
    image.draft('RGB', (image_size, image_size))
    image = ImageOps.exif_transpose(image).convert('RGB')
    image = image.resize((image_size, image_size), Image.BILINEAR,
                         reducing_gap=3.0)
    return np.asarray(image, np.uint8)


def softmax(logits):
  shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
  return shifted / shifted.sum(axis=-1, keepdims=True)


class LiteRTBundle:
  """A bundle loaded: answers [(question images, questions)] with LiteRT."""

  def __init__(self, bundle_dir):
    self.path = bundle_dir
    self.facts = read_facts(bundle_dir)
    model_path = os.path.join(bundle_dir, MODEL_FILE)
    if not os.path.exists(model_path):
      raise errors.MissingInput(f'{model_path}: not found')
    with open(model_path, 'rb') as f:
      self.runner = litert_runner.LiteRTRunner(f.read(), source=model_path)
    if self.runner.num_answers != len(self.facts.answers):
      raise errors.UserError(
          f'{model_path} answers over {self.runner.num_answers} answers but '
          f'{os.path.join(bundle_dir, BUNDLE_FILE)} lists '
          f'{len(self.facts.answers)}')
    self.encoder = QuestionEncoder(
        _read_text(os.path.join(bundle_dir, TOKENIZER_FILE)),
        self.facts.max_question_tokens)

  def model_inputs(self, images, questions):
    """The model's inputs for [B] encoded images and [B] questions."""
    input_ids, attention_mask = self.encoder.encode(questions)
    inputs = {litert_runner.INPUT_IDS: input_ids,
              litert_runner.ATTENTION_MASK: attention_mask}
    if self.runner.uses_image:
      inputs[litert_runner.IMAGE] = np.stack(
          [square_pixels(data, self.facts.image_size) for data in images])
    return inputs

  def logits(self, images, questions):
    return self.runner.logits(self.model_inputs(images, questions))

  def answer(self, images, questions, top_k=TOP_K):
    """[[(answer, probability)], best first] per question."""
    probabilities = softmax(self.logits(images, questions))
    best = np.argsort(-probabilities, axis=-1, kind='stable')[:, :top_k]
    return [[(self.facts.answers[i], float(row[i])) for i in indices]
            for row, indices in zip(probabilities, best)]


def answer(bundle_dir, requests, images):
  """`vqa predict --tflite BUNDLE`: [(question, [(answer, probability)])]
  for [(image path, question)] and the images' checked bytes
  (trainer/serve/predict_inputs.py reads and checks them)."""
  bundle = LiteRTBundle(bundle_dir)
  questions = [question for _, question in requests]
  return list(zip(questions, bundle.answer(images, questions)))


def run(config):
  """`vqa predict --tflite BUNDLE` from its config."""
  return answer(config.tflite, *predict_inputs.checked_requests(config))
