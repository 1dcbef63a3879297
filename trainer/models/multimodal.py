"""The VQA teacher (BERT + MobileNetV2) and the question-only baseline.

Both are Functional tf-keras models (tfmot pruning and clean saving need it)
over the inputs `input_ids`, `attention_mask` (int32 [L]) and `image` (uint8
[S, S, 3]). The layers are built once (`TeacherLayers`) so that the same
weights can be trained end to end or, with a frozen encoder, on cached encoder
outputs (`head_model`) and then used by the full model unchanged.
"""
import dataclasses

import tensorflow as tf

from trainer.contract import errors
from trainer.data import input_pipeline
from trainer.models import text_encoder

keras = tf.keras

TEXT_FEATURES = 'text_features'
# MobileNetV2's last activation at each output stride.
MOBILENET_STRIDE_LAYERS = {4: 'block_3_expand_relu', 8: 'block_6_expand_relu',
                           16: 'block_13_expand_relu', 32: 'out_relu'}
IMAGE_FEATURES = 'image_features'
AUGMENTATIONS = ('none', 'flip', 'flip-rotate')


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Architecture; all defaults are the real-use teacher."""
  kind: str = dataclasses.field(default='teacher', metadata={
      'flag': '--model', 'choices': ('teacher', 'question-only')})
  text_encoder: str = dataclasses.field(
      default=text_encoder.DEFAULT_TEXT_ENCODER, metadata={
          'help': 'bundled all-MiniLM-L6-v2, a local or gs:// directory, a '
                  'hub name, or "tiny" (random, for tests)'})
  text_trainable_layers: int = dataclasses.field(default=0, metadata={
      'help': 'fine-tune the top N BERT layers (0: frozen)'})
  text_pooling: str = dataclasses.field(default='mean', metadata={
      'choices': ('mean', 'pooled')})  # masked mean or [CLS]
  image_weights: str = dataclasses.field(default='imagenet', metadata={
      'help': 'imagenet (downloads), none, or a weights file'})
  image_alpha: float = 1.0  # MobileNetV2 width
  # None: decided by trainer/fit/defaults.py (trained without pretrained
  # weights, frozen over pretrained ones).
  image_trainable: bool = dataclasses.field(default=None, metadata={
      'negative': '--image-frozen',
      'help': 'train MobileNetV2 (default without pretrained weights); '
              '--image-frozen freezes it (default over pretrained weights; '
              'refused without them)'})
  # The records decide it (`vqa train` reads it from their metadata).
  image_size: int = dataclasses.field(default=224, metadata={'cli': False})
  # MobileNetV2 up to the layer at this stride (4, 8, 16 or 32 = the whole
  # network): at 32-64 px the full network's stride 32 leaves a 1x1 map.
  # 0: decided by trainer/fit/defaults.py from the image size.
  image_feature_stride: int = dataclasses.field(default=0, metadata={
      'choices': (0, *sorted(MOBILENET_STRIDE_LAYERS)),
      'help': 'MobileNetV2 up to this output stride; 0: the deepest layer '
              "whose map is at least 6x6 at the records' image size"})
  # Training-time image augmentation (never applied to cached features):
  # 'flip' (horizontal flips) or 'flip-rotate' (any of the 8 flips and
  # right-angle rotations), for data whose answers do not depend on
  # orientation, such as the sample data (no left/right questions).
  image_augment: str = dataclasses.field(default='none', metadata={
      'const': 'flip', 'choices': AUGMENTATIONS,
      'help': 'while training: flip (horizontal flips; the default when the '
              'flag has no value) or flip-rotate (all 8 flips and right-angle '
              'rotations); only for answers that do not depend on '
              'orientation'})
  fusion_width: int = 512
  hidden_width: int = 512
  dropout: float = 0.3

  def __post_init__(self):
    # config.json files written when the field was a flag for flips.
    if isinstance(self.image_augment, bool):
      object.__setattr__(self, 'image_augment',
                         'flip' if self.image_augment else 'none')

  def check(self):
    if self.image_augment not in AUGMENTATIONS:
      raise errors.UserError(f'image augmentation {self.image_augment!r}: one of '
                       f'{AUGMENTATIONS}')
    if self.kind not in ('teacher', 'question-only'):
      raise errors.UserError(f'model kind {self.kind!r}: teacher or question-only')
    if self.text_pooling not in ('mean', 'pooled'):
      raise errors.UserError(f'text pooling {self.text_pooling!r}: mean or pooled')
    if self.image_feature_stride not in (0, *MOBILENET_STRIDE_LAYERS):
      raise errors.UserError(f'image feature stride {self.image_feature_stride}: '
                       f'one of {sorted(MOBILENET_STRIDE_LAYERS)} (0: auto)')

  def check_resolved(self):
    """A buildable config: nothing is left to trainer/fit/defaults.py."""
    self.check()
    if self.uses_image and (self.image_trainable is None or
                            not self.image_feature_stride):
      raise ValueError('image_trainable and image_feature_stride must be '
                       'decided before the model is built (see '
                       'trainer/fit/defaults.py)')

  @property
  def uses_image(self):
    return self.kind == 'teacher'

  @property
  def text_frozen(self):
    return self.text_trainable_layers == 0

  @property
  def image_frozen(self):
    return not self.image_trainable


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


def mobilenet_v2_features(config):
  """MobileNetV2 up to config.image_feature_stride, globally average-pooled."""
  network = keras.applications.MobileNetV2(
      input_shape=(config.image_size, config.image_size, 3),
      alpha=config.image_alpha, include_top=False, pooling='avg',
      weights=_image_weights_argument(config.image_weights))
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
