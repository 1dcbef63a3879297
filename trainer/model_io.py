"""Building, saving and loading trained models: MODEL_DIR's layout.

MODEL_DIR/
  config.json           resolved training config, answers, tokenizer, sizes
  text_encoder.json     the BERT config, so loading needs no pretrained files
  tokenizer/            the WordPiece files the records were encoded with
  model/weights.*       the trained weights (TensorFlow checkpoint)
  history.json          per-epoch metrics and timings
  checkpoints/, backup/, logs/   per-epoch checkpoints, resume state, TensorBoard
"""
import dataclasses
import json
import os

import tensorflow as tf

from trainer import contract
from trainer import models
from trainer import text_encoder

CONFIG_FILE = 'config.json'
TEXT_ENCODER_FILE = 'text_encoder.json'
HISTORY_FILE = 'history.json'
WEIGHTS_PREFIX = os.path.join('model', 'weights')
TOKENIZER_DIR = 'tokenizer'
TINY_TEXT_ENCODER = 'tiny'


def write_json(value, path):
  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.gfile.GFile(path, 'w') as f:
    json.dump(value, f, indent=2, sort_keys=True, default=str)


def read_json(path):
  if not tf.io.gfile.exists(path):
    raise FileNotFoundError(f'{path}: not found')
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def _pretrained_text_encoder(model_config, cache_dir):
  if model_config.text_encoder == TINY_TEXT_ENCODER:
    return text_encoder.build_random_text_encoder()
  bert, _ = text_encoder.load_text_encoder(model_config.text_encoder,
                                           cache_dir or None)
  return bert


def _check_vocabulary(bert, spec):
  records_vocab = spec.metadata['tokenizer']['vocab_size']
  if bert.config.vocab_size != records_vocab:
    raise ValueError(
        f'the records in {spec.data_dir} were tokenised with a vocabulary of '
        f'{records_vocab} ({spec.metadata["tokenizer"]["name"]}), but the '
        f'text encoder has {bert.config.vocab_size}: use the same tokenizer '
        'for `vqa preprocess --tokenizer` and `vqa train --text-encoder`')


def build_layers(model_config, spec, cache_dir=''):
  """TeacherLayers with pretrained encoders; call inside strategy.scope()."""
  bert = _pretrained_text_encoder(model_config, cache_dir)
  _check_vocabulary(bert, spec)
  return models.TeacherLayers(model_config, spec.num_answers, bert)


def _copy_tokenizer(data_dir, model_dir):
  source = contract.tokenizer_dir(data_dir)
  target = os.path.join(model_dir, TOKENIZER_DIR)
  tf.io.gfile.makedirs(target)
  for name in tf.io.gfile.listdir(source):
    tf.io.gfile.copy(os.path.join(source, name), os.path.join(target, name),
                     overwrite=True)


def save_model(model, config, spec, model_dir):
  """Writes weights, config.json, text_encoder.json and the tokenizer."""
  model.save_weights(os.path.join(model_dir, WEIGHTS_PREFIX))
  import transformers  # pylint: disable=g-import-not-at-top
  bert = next(layer for layer in model.layers
              if isinstance(layer, transformers.TFBertModel))
  write_json(bert.config.to_dict(),
             os.path.join(model_dir, TEXT_ENCODER_FILE))
  write_json({
      'train': dataclasses.asdict(config),
      'model': dataclasses.asdict(config.model),
      'answers': list(spec.answers),
      'max_question_tokens': spec.max_question_tokens,
      'image_size': spec.image_size,
      'tokenizer': spec.metadata['tokenizer'],
      'data': spec.data_dir,
  }, os.path.join(model_dir, CONFIG_FILE))
  _copy_tokenizer(spec.data_dir, model_dir)


@dataclasses.dataclass
class LoadedModel:
  model: tf.keras.Model
  model_config: models.ModelConfig
  answers: tuple
  max_question_tokens: int
  image_size: int
  model_dir: str
  saved_config: dict

  @property
  def tokenizer_dir(self):
    return os.path.join(self.model_dir, TOKENIZER_DIR)


def load_model(model_dir):
  """Rebuilds a trained model from MODEL_DIR alone (no pretrained files)."""
  saved = read_json(os.path.join(model_dir, CONFIG_FILE))
  bert_config = read_json(os.path.join(model_dir, TEXT_ENCODER_FILE))
  model_config = models.ModelConfig(**dict(saved['model'],
                                           image_weights='none'))
  import transformers  # pylint: disable=g-import-not-at-top
  bert = text_encoder.build_random_text_encoder(
      transformers.BertConfig.from_dict(bert_config))
  layers = models.TeacherLayers(model_config, len(saved['answers']), bert)
  model = models.full_model(layers, saved['max_question_tokens'])
  model.load_weights(os.path.join(model_dir, WEIGHTS_PREFIX)).expect_partial()
  return LoadedModel(model=model, model_config=model_config,
                     answers=tuple(saved['answers']),
                     max_question_tokens=saved['max_question_tokens'],
                     image_size=saved['image_size'], model_dir=model_dir,
                     saved_config=saved)

