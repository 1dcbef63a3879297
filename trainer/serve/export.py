"""SavedModel export with a raw-input serving signature.

MODEL_DIR/export/ answers from JPEG (or PNG) bytes and a question string:
WordPiece tokenisation (tensorflow_text.FastBertTokenizer on the same
vocabulary as the records) and image decoding/resizing run inside the graph,
so serving needs no Python code from this repository — only TensorFlow and
`import tensorflow_text` (which registers the tokenizer's ops):

  import tensorflow as tf, tensorflow_text  # noqa
  model = tf.saved_model.load('MODEL_DIR/export')
  out = model.signatures['serving_default'](
      image_bytes=tf.constant([open('photo.jpg', 'rb').read()]),
      question=tf.constant(['What color is the bus?']))
  out['answers'], out['probabilities']   # [batch, top_k] each
"""
import json
import os

import tensorflow as tf
import tensorflow_text

from trainer.data import input_pipeline
from trainer.models import model_io

EXPORT_DIR = 'export'
SIGNATURE = 'serving_default'
DEFAULT_TOP_K = 5


def _read_lines(path):
  with tf.io.gfile.GFile(path) as f:
    return f.read().splitlines()


def lower_case(tokenizer_dir):
  path = os.path.join(tokenizer_dir, 'tokenizer_config.json')
  if not tf.io.gfile.exists(path):
    return True
  with tf.io.gfile.GFile(path) as f:
    return bool(json.load(f).get('do_lower_case', True))


def square_image(data, image_size):
  """One encoded image -> [S, S, 3] uint8, resized like the records.

  Antialiased bilinear, as beam_pipelines/images.py's PIL resize
  (tests/test_resize_agreement.py compares them); JPEGs decoded as Pillow
  decodes them (input_pipeline.decode_jpeg), other formats by decode_image.
  """
  image = tf.cond(
      tf.io.is_jpeg(data), lambda: input_pipeline.decode_jpeg(data),
      lambda: tf.io.decode_image(data, channels=3, expand_animations=False))
  image = tf.image.resize(image, [image_size, image_size], method='bilinear',
                          antialias=True)
  return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)


class RawInputEncoder(tf.Module):
  """Questions and encoded images -> the model's inputs, in TensorFlow ops.

  The SavedModel's signature runs it inside the graph; `vqa serve` runs it
  eagerly in front of a TFLite model, whose graph takes token ids and pixels.
  """

  def __init__(self, tokenizer_dir, max_question_tokens, image_size):
    super().__init__()
    vocab = _read_lines(os.path.join(tokenizer_dir, 'vocab.txt'))
    self.tokenizer = tensorflow_text.FastBertTokenizer(
        vocab=vocab, token_out_type=tf.int64,
        lower_case_nfd_strip_accents=lower_case(tokenizer_dir))
    self.cls_id = vocab.index('[CLS]')
    self.sep_id = vocab.index('[SEP]')
    self.max_tokens = max_question_tokens
    self.image_size = image_size

  def encode_questions(self, question):
    """[B] strings -> (input_ids, attention_mask), [B, L] int32 each."""
    pieces = self.tokenizer.tokenize(question)
    pieces = pieces[:, :self.max_tokens - 2]
    batch = tf.shape(question)[0]
    cls = tf.fill([batch, 1], tf.constant(self.cls_id, tf.int64))
    sep = tf.fill([batch, 1], tf.constant(self.sep_id, tf.int64))
    ids = tf.concat([cls, pieces, sep], axis=1)
    mask = tf.ones_like(ids)
    shape = [batch, self.max_tokens]
    return (tf.cast(ids.to_tensor(0, shape=shape), tf.int32),
            tf.cast(mask.to_tensor(0, shape=shape), tf.int32))

  def decode_images(self, image_bytes):
    """[B] encoded images -> [B, S, S, 3] uint8, resized like the records."""
    return tf.map_fn(lambda data: square_image(data, self.image_size),
                     image_bytes,
                     fn_output_signature=tf.TensorSpec(
                         [self.image_size, self.image_size, 3], tf.uint8))

  def model_inputs(self, image_bytes, question, uses_image=True):
    """The model's input dict for [B] encoded images and [B] questions."""
    input_ids, attention_mask = self.encode_questions(question)
    inputs = {input_pipeline.INPUT_IDS: input_ids,
              input_pipeline.ATTENTION_MASK: attention_mask}
    if uses_image:
      inputs[input_pipeline.IMAGE] = self.decode_images(image_bytes)
    return inputs


class ServingModule(tf.Module):
  """The trained model behind a raw bytes + text signature."""

  def __init__(self, loaded, top_k=DEFAULT_TOP_K):
    super().__init__()
    self.model = loaded.model
    self.encoder = RawInputEncoder(loaded.tokenizer_dir,
                                   loaded.max_question_tokens,
                                   loaded.image_size)
    self.uses_image = loaded.uses_image
    self.answers = tf.constant(list(loaded.answers))
    self.top_k = min(top_k, len(loaded.answers))

  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.string, name='image_bytes'),
      tf.TensorSpec([None], tf.string, name='question')])
  def serve(self, image_bytes, question):
    inputs = self.encoder.model_inputs(image_bytes, question,
                                       self.uses_image)
    probabilities = tf.nn.softmax(self.model(inputs, training=False))
    top = tf.math.top_k(probabilities, k=self.top_k)
    return {'answers': tf.gather(self.answers, top.indices),
            'probabilities': top.values}


def export_saved_model(model_dir, loaded=None, top_k=DEFAULT_TOP_K):
  """Writes MODEL_DIR/export; returns its path."""
  loaded = loaded or model_io.load_model(model_dir)
  module = ServingModule(loaded, top_k)
  path = os.path.join(model_dir, EXPORT_DIR)
  tf.saved_model.save(module, path, signatures={SIGNATURE: module.serve})
  return path
