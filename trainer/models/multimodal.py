"""The VQA teacher (BERT + MobileNetV2) and the question-only baseline.

Both are Functional tf-keras models (tfmot pruning and clean saving need it)
over the inputs `input_ids`, `attention_mask` (int32 [L]) and `image` (uint8
[S, S, 3]). The layers are built once (`TeacherLayers`) so that the same
weights can be trained end to end or, with a frozen encoder, on cached encoder
outputs (`head_model`) and then used by the full model unchanged.
"""

import tensorflow as tf

from trainer.contract import errors
from trainer.data import input_pipeline
from trainer.models import text_encoder
# The settings, here too for the callers that build models from them.
from trainer.models.model_config import AUGMENTATIONS  # pylint: disable=unused-import
from trainer.models.model_config import MOBILENET_STRIDE_LAYERS
from trainer.models.model_config import ModelConfig  # pylint: disable=unused-import

keras = tf.keras

TEXT_FEATURES = 'text_features'
IMAGE_FEATURES = 'image_features'


class MaskedMeanPooling(keras.layers.Layer):
  """Mean of the token vectors where attention_mask is 1."""

  def call(self, sequence, mask):
    return text_encoder.masked_mean(sequence, mask)


def _image_weights_argument(image_weights):
  if image_weights == 'none':
    return None
  return image_weights  # 'imagenet' (downloads once) or a local file


def set_text_trainable_layers(bert, trainable_layers):
  """Freezes BERT except its top `trainable_layers` encoder layers."""
  if trainable_layers == 0:
    bert.trainable = False
    return
  bert.trainable = True
  main = bert.bert
  main.embeddings.trainable = False
  layers = main.encoder.layer
  for index, layer in enumerate(layers):
    layer.trainable = index >= len(layers) - trainable_layers


def _speed_up_batch_norm_statistics(model, momentum=0.9):
  """Lets BatchNorm's moving statistics follow a network trained from scratch.

  Keras' MobileNetV2 uses momentum 0.999, made for fine-tuning: trained from
  random weights for a few thousand steps, its moving averages still describe
  the first steps, and validation (which uses them) lags far behind training.
  """
  for layer in model.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
      layer.momentum = momentum


class RandomDihedral(keras.layers.Layer):
  """Each training image in one of its 8 flips and right-angle rotations.

  A random transpose, then random vertical and horizontal flips: uniform over
  the symmetries of a square image; the identity at inference.
  """

  def call(self, images, training=None):
    if not training:
      return images
    batch = tf.shape(images)[0]

    def half_the_time(original, transformed):
      chosen = tf.random.uniform([batch, 1, 1, 1]) < 0.5
      return tf.where(chosen, transformed, original)

    images = half_the_time(images, tf.transpose(images, [0, 2, 1, 3]))
    images = half_the_time(images, tf.reverse(images, [1]))
    return half_the_time(images, tf.reverse(images, [2]))


def image_augmentation(kind):
  """The training-time augmentation layer for `kind`, or None."""
  if kind == 'flip':
    return keras.layers.RandomFlip('horizontal', name='image_flip')
  if kind == 'flip-rotate':
    return RandomDihedral(name='image_flip_rotate')
  return None


# What tf-keras's get_file raises when a download fails (a plain Exception).
DOWNLOAD_FAILURE = 'URL fetch failure'


def _mobilenet_v2(config):
  """keras.applications.MobileNetV2; a UserError saying what to pass when
  its weights cannot be had."""
  weights = _image_weights_argument(config.image_weights)
  if weights not in (None, 'imagenet') and not tf.io.gfile.exists(weights):
    raise errors.MissingInput(f'--image-weights {weights}: not found (give '
                              'imagenet, none or a weights file)')
  try:
    return keras.applications.MobileNetV2(
        input_shape=(config.image_size, config.image_size, 3),
        alpha=config.image_alpha, include_top=False, pooling='avg',
        weights=weights)
  except Exception as e:  # pylint: disable=broad-except
    if weights != 'imagenet' or DOWNLOAD_FAILURE not in str(e):
      raise
    raise errors.UserError(
        '--image-weights imagenet: the MobileNetV2 ImageNet weights could not '
        f'be downloaded ({e}); pass --image-weights none to train the image '
        'encoder from random weights, or --image-weights FILE with the '
        f'Keras MobileNetV2 no-top weights file for alpha {config.image_alpha} '
        'fetched on a machine with network access') from e


def mobilenet_v2_features(config):
  """MobileNetV2 up to config.image_feature_stride, globally average-pooled."""
  network = _mobilenet_v2(config)
  if config.image_feature_stride == 32:
    return network
  name = MOBILENET_STRIDE_LAYERS[config.image_feature_stride]
  pooled = keras.layers.GlobalAveragePooling2D(name='feature_pooling')(
      network.get_layer(name).output)
  return keras.Model(network.input, pooled, name=network.name)


class TeacherLayers:
  """Every layer of the model, built once and shared by its graphs."""

  def __init__(self, config, num_answers, bert):
    config.check_resolved()
    self.config = config
    self.bert = bert
    set_text_trainable_layers(self.bert, config.text_trainable_layers)
    self.pool_text = MaskedMeanPooling(name='text_mean_pooling')
    self.text_projection = keras.layers.Dense(
        config.fusion_width, activation='tanh', name='text_projection')
    self.text_dropout = keras.layers.Dropout(config.dropout,
                                             name='text_dropout')
    if config.uses_image:
      self.image_augmentation = image_augmentation(config.image_augment)
      self.image_scaling = keras.layers.Rescaling(
          1 / 127.5, offset=-1.0, name='mobilenet_v2_preprocess')
      self.mobilenet = mobilenet_v2_features(config)
      self.mobilenet.trainable = config.image_trainable
      if config.image_weights == 'none':
        _speed_up_batch_norm_statistics(self.mobilenet)
      self.image_projection = keras.layers.Dense(
          config.fusion_width, activation='tanh', name='image_projection')
      self.image_dropout = keras.layers.Dropout(config.dropout,
                                                name='image_dropout')
      self.fuse = keras.layers.Multiply(name='fusion')
    self.hidden = keras.layers.Dense(config.hidden_width, activation='relu',
                                     name='head_hidden')
    self.hidden_dropout = keras.layers.Dropout(config.dropout,
                                               name='head_dropout')
    self.logits = keras.layers.Dense(num_answers, name='answer_logits',
                                     dtype='float32')

  @property
  def text_feature_size(self):
    return self.bert.config.hidden_size

  @property
  def image_feature_size(self):
    return self.mobilenet.output_shape[-1]

  def text_features(self, input_ids, attention_mask):
    outputs = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                        training=False if self.config.text_frozen else None)
    if self.config.text_pooling == 'pooled':
      return outputs.pooler_output
    return self.pool_text(outputs.last_hidden_state, attention_mask)

  def image_features(self, image):
    image = tf.cast(image, tf.float32)
    if self.image_augmentation is not None:
      image = self.image_augmentation(image)
    scaled = self.image_scaling(image)
    return self.mobilenet(scaled,
                          training=False if self.config.image_frozen else None)

  def head(self, text_features, image_features):
    text = self.text_dropout(self.text_projection(text_features))
    if image_features is None:
      fused = text
    else:
      image = self.image_dropout(self.image_projection(image_features))
      fused = self.fuse([text, image])
    return self.logits(self.hidden_dropout(self.hidden(fused)))


def model_inputs(max_question_tokens, image_size=None):
  """Keras inputs named as the records' features; an image one if sized."""
  inputs = {
      input_pipeline.INPUT_IDS: keras.Input(
          (max_question_tokens,), dtype=tf.int32,
          name=input_pipeline.INPUT_IDS),
      input_pipeline.ATTENTION_MASK: keras.Input(
          (max_question_tokens,), dtype=tf.int32,
          name=input_pipeline.ATTENTION_MASK),
  }
  if image_size:
    inputs[input_pipeline.IMAGE] = keras.Input(
        (image_size, image_size, 3), dtype=tf.uint8,
        name=input_pipeline.IMAGE)
  return inputs


def input_signature(model):
  """{name: TensorSpec} of a model's inputs, the batch dimension left open:
  one trace serves every batch size (evaluation, latency, TFLite)."""
  return {name: tf.TensorSpec([None] + list(tensor.shape[1:]), tensor.dtype,
                              name=name)
          for name, tensor in model.input.items()}


def _inputs_of(config, max_question_tokens):
  return model_inputs(max_question_tokens,
                      config.image_size if config.uses_image else None)


def full_model(layers, max_question_tokens):
  """The end-to-end model: raw token ids and image pixels in, logits out."""
  inputs = _inputs_of(layers.config, max_question_tokens)
  text = layers.text_features(inputs[input_pipeline.INPUT_IDS],
                              inputs[input_pipeline.ATTENTION_MASK])
  image = (layers.image_features(inputs[input_pipeline.IMAGE])
           if layers.config.uses_image else None)
  name = 'vqa_' + layers.config.kind.replace('-', '_')
  return keras.Model(inputs, layers.head(text, image), name=name)


def head_model(layers, max_question_tokens, cache_text, cache_image):
  """The same weights fed with cached frozen-encoder outputs where asked."""
  config = layers.config
  raw = _inputs_of(config, max_question_tokens)
  inputs = {}
  if cache_text:
    inputs[TEXT_FEATURES] = keras.Input((layers.text_feature_size,),
                                        name=TEXT_FEATURES)
    text = inputs[TEXT_FEATURES]
  else:
    inputs.update({k: raw[k] for k in (input_pipeline.INPUT_IDS,
                                       input_pipeline.ATTENTION_MASK)})
    text = layers.text_features(inputs[input_pipeline.INPUT_IDS],
                                inputs[input_pipeline.ATTENTION_MASK])
  image = None
  if config.uses_image and cache_image:
    inputs[IMAGE_FEATURES] = keras.Input((layers.image_feature_size,),
                                         name=IMAGE_FEATURES)
    image = inputs[IMAGE_FEATURES]
  elif config.uses_image:
    inputs[input_pipeline.IMAGE] = raw[input_pipeline.IMAGE]
    image = layers.image_features(inputs[input_pipeline.IMAGE])
  return keras.Model(inputs, layers.head(text, image), name='vqa_head')


def text_encoder_model(layers, max_question_tokens):
  """input ids + mask -> pooled text features (for caching)."""
  raw = _inputs_of(layers.config, max_question_tokens)
  inputs = {k: raw[k] for k in (input_pipeline.INPUT_IDS,
                                input_pipeline.ATTENTION_MASK)}
  features = layers.text_features(inputs[input_pipeline.INPUT_IDS],
                                  inputs[input_pipeline.ATTENTION_MASK])
  return keras.Model(inputs, features, name='text_encoder')


def image_encoder_model(layers):
  """image -> pooled image features (for caching)."""
  image = _inputs_of(layers.config, 1)[input_pipeline.IMAGE]
  return keras.Model(image, layers.image_features(image), name='image_encoder')
