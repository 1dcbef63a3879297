"""The distillation student: a small Functional model on the teacher's inputs.

Same inputs as the teacher (`input_ids`, `attention_mask`, `image` uint8) and
the same fusion (project both modalities, multiply, MLP head over the K
answers), so it evaluates, exports and serves exactly like the teacher:

  text   token embedding -> 1-D convolutions (or a BiLSTM) -> masked max pool
  image  a few strided 3x3 convolutions with batch norm -> global average pool

Every op converts to TFLite builtins, including full-integer quantisation
(the convolutional text encoder; the LSTM needs TFLite's Select TF ops).
"""

import tensorflow as tf

from trainer.data import input_pipeline
from trainer.models import multimodal
from trainer.models.model_config import StudentConfig  # pylint: disable=unused-import

keras = tf.keras


class MaskedMaxPooling(keras.layers.Layer):
  """Max over the tokens where attention_mask is 1 (features are >= 0)."""

  def call(self, sequence, mask):
    mask = tf.cast(mask, sequence.dtype)[..., tf.newaxis]
    return tf.reduce_max(sequence * mask, axis=1)


def _text_branch(config, input_ids, attention_mask, vocab_size):
  embedded = keras.layers.Embedding(vocab_size, config.embedding_dim,
                                    name='token_embedding')(input_ids)
  if config.text_layer == 'lstm':
    sequence = keras.layers.Bidirectional(
        keras.layers.LSTM(config.text_width // 2, return_sequences=True),
        name='text_bilstm')(embedded, mask=tf.cast(attention_mask, tf.bool))
    sequence = keras.layers.ReLU(name='text_relu')(sequence)
  else:
    sequence = embedded
    for index in range(2):
      sequence = keras.layers.Conv1D(
          config.text_width, config.text_kernel_size, padding='same',
          activation='relu', name=f'text_conv_{index}')(sequence)
  return MaskedMaxPooling(name='text_max_pooling')(sequence, attention_mask)


def _image_branch(config, image):
  x = keras.layers.Rescaling(1 / 127.5, offset=-1.0,
                             name='image_scaling')(tf.cast(image, tf.float32))
  for index, filters in enumerate(config.image_filters):
    x = keras.layers.Conv2D(filters, 3, strides=2 if index else 1,
                            padding='same', use_bias=False,
                            name=f'image_conv_{index}')(x)
    x = keras.layers.BatchNormalization(momentum=0.9,
                                        name=f'image_bn_{index}')(x)
    x = keras.layers.ReLU(name=f'image_relu_{index}')(x)
  return keras.layers.GlobalAveragePooling2D(name='image_pooling')(x)


def build_student(config, vocab_size, num_answers, max_question_tokens,
                  image_size):
  """The Functional student: raw token ids and image pixels in, logits out."""
  config.check()
  inputs = multimodal.model_inputs(max_question_tokens, image_size)
  text = _text_branch(config, inputs[input_pipeline.INPUT_IDS],
                      inputs[input_pipeline.ATTENTION_MASK], vocab_size)
  image = _image_branch(config, inputs[input_pipeline.IMAGE])
  text = keras.layers.Dense(config.fusion_width, activation='tanh',
                            name='text_projection')(text)
  image = keras.layers.Dense(config.fusion_width, activation='tanh',
                             name='image_projection')(image)
  text = keras.layers.Dropout(config.dropout, name='text_dropout')(text)
  image = keras.layers.Dropout(config.dropout, name='image_dropout')(image)
  fused = keras.layers.Multiply(name='fusion')([text, image])
  hidden = keras.layers.Dense(config.hidden_width, activation='relu',
                              name='head_hidden')(fused)
  hidden = keras.layers.Dropout(config.dropout, name='head_dropout')(hidden)
  logits = keras.layers.Dense(num_answers, name='answer_logits',
                              dtype='float32')(hidden)
  return keras.Model(inputs, logits, name='vqa_student')
