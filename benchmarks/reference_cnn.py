"""A plain reference for the teacher: what a small CNN learns on the same data.

  python benchmarks/reference_cnn.py --data RECORDS [--epochs 10]
      [--batch-size 32] [--learning-rate 0.002]

Everything but the image model is the teacher's: the same records, the same
frozen text encoder's cached question features, the same head (projections
to 512, product, a 512-unit hidden layer, dropout 0.3), loss, Adam with
cosine decay, epochs and batch. The image model is four blocks a reader can
check by eye:

  [3x3 convolution, batch norm, ReLU] x 4 (32, 64, 128, 256 filters), 2x2
  max pooling after the first three (a 12x12 map at 96 px; after all four,
  6x6, it learnt nothing on the glyphs family in 10 epochs), global average
  pooling

Prints the validation VQA accuracy of each epoch and, last, a JSON line
{"vqa_accuracy": ..., "train_vqa_accuracy": ..., "history": ...}, Keras's
validation metric, the one `vqa train` reports for the teacher each epoch.
benchmarks/defaults_bench.py calls train_reference() and scores its model
as it scores the others (image_check.measure).
"""
import argparse
import dataclasses
import json
import sys

FILTERS = (32, 64, 128, 256)
POOLED_BLOCKS = 3
WIDTH = 512
DROPOUT = 0.3


def conv_block(x, filters, index, pool=True):
  from tensorflow import keras  # pylint: disable=g-import-not-at-top
  x = keras.layers.Conv2D(filters, 3, padding='same', use_bias=False,
                          name=f'block{index}_conv')(x)
  x = keras.layers.BatchNormalization(name=f'block{index}_bn')(x)
  x = keras.layers.ReLU(name=f'block{index}_relu')(x)
  if not pool:
    return x
  return keras.layers.MaxPooling2D(2, name=f'block{index}_pool')(x)


def reference_model(image_size, text_feature_size, num_answers):
  """Cached text features + image pixels -> answer logits."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from trainer.data import input_pipeline  # pylint: disable=g-import-not-at-top
  from trainer.models import multimodal  # pylint: disable=g-import-not-at-top
  keras = tf.keras
  text = keras.Input((text_feature_size,), name=multimodal.TEXT_FEATURES)
  image = keras.Input((image_size, image_size, 3), dtype=tf.uint8,
                      name=input_pipeline.IMAGE)
  x = keras.layers.Rescaling(1 / 255)(tf.cast(image, tf.float32))
  for index, filters in enumerate(FILTERS):
    x = conv_block(x, filters, index, pool=index < POOLED_BLOCKS)
  x = keras.layers.GlobalAveragePooling2D()(x)
  image_vector = keras.layers.Dropout(DROPOUT)(
      keras.layers.Dense(WIDTH, activation='tanh')(x))
  text_vector = keras.layers.Dropout(DROPOUT)(
      keras.layers.Dense(WIDTH, activation='tanh')(text))
  fused = keras.layers.Multiply()([text_vector, image_vector])
  hidden = keras.layers.Dropout(DROPOUT)(
      keras.layers.Dense(WIDTH, activation='relu')(fused))
  logits = keras.layers.Dense(num_answers)(hidden)
  return keras.Model({multimodal.TEXT_FEATURES: text,
                      input_pipeline.IMAGE: image}, logits,
                     name='reference_cnn')


def logits_function(model, layers, max_question_tokens):
  """Raw model inputs (token ids, mask, image) -> numpy logits, as
  trainer.measure.image_check.measure asks: the frozen text encoder, then
  the reference."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from trainer.data import input_pipeline  # pylint: disable=g-import-not-at-top
  from trainer.models import multimodal  # pylint: disable=g-import-not-at-top
  encoder = tf.function(multimodal.text_encoder_model(layers,
                                                      max_question_tokens))
  text_names = (input_pipeline.INPUT_IDS, input_pipeline.ATTENTION_MASK)

  def logits_of(inputs):
    text = encoder({name: inputs[name] for name in text_names},
                   training=False)
    return model({multimodal.TEXT_FEATURES: text,
                  input_pipeline.IMAGE: inputs[input_pipeline.IMAGE]},
                 training=False).numpy()

  return logits_of


def train_reference(data, epochs, batch_size, learning_rate, seed=0,
                    text_encoder='', steps_per_epoch=0):
  """({'vqa_accuracy': last epoch's validation, 'train_vqa_accuracy',
  'history'}, logits function of raw model inputs)."""
  from trainer.data import input_pipeline  # pylint: disable=g-import-not-at-top
  from trainer.fit import feature_cache  # pylint: disable=g-import-not-at-top
  from trainer.fit import fit_setup  # pylint: disable=g-import-not-at-top
  from trainer.fit import train_config  # pylint: disable=g-import-not-at-top
  from trainer.models import model_io  # pylint: disable=g-import-not-at-top
  from trainer.models import multimodal  # pylint: disable=g-import-not-at-top
  spec = input_pipeline.read_data_spec(data)
  config = train_config.TrainConfig(
      data=data, epochs=epochs, batch_size=batch_size,
      learning_rate=learning_rate, seed=seed, steps_per_epoch=steps_per_epoch)
  fit_setup.seed_everything(config)
  text_only = dataclasses.replace(
      config.model, kind='question-only', image_size=spec.image_size,
      text_encoder=text_encoder or config.model.text_encoder)
  layers = model_io.build_layers(text_only, spec)
  splits = (config.train_split, config.val_split)
  text_table = feature_cache.compute_text_features(layers, spec, splits,
                                                   batch_size)
  make = lambda split, training: feature_cache.with_cached_features(
      input_pipeline.make_dataset(spec, split, batch_size, training=training,
                                  seed=seed, for_keras=False,
                                  drop_labelless=training), text_table)
  model = reference_model(spec.image_size, layers.text_feature_size,
                          spec.num_answers)
  steps = fit_setup.steps_per_epoch(config, spec, batch_size)
  fit_setup.compile_model(model, config, steps * epochs)
  history = model.fit(make(config.train_split, True), epochs=epochs,
                      steps_per_epoch=steps,
                      validation_data=make(config.val_split, False), verbose=2)
  curves = {name: [float(v) for v in values]
            for name, values in history.history.items()}
  result = {'vqa_accuracy': curves['val_vqa_accuracy'][-1],
            'train_vqa_accuracy': curves['vqa_accuracy'][-1],
            'history': curves}
  return result, logits_function(model, layers, spec.max_question_tokens)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawTextHelpFormatter)
  parser.add_argument('--data', required=True, help='preprocessed records')
  parser.add_argument('--epochs', type=int, default=10)
  parser.add_argument('--batch-size', type=int, default=32)
  parser.add_argument('--learning-rate', type=float, default=2e-3)
  parser.add_argument('--seed', type=int, default=0)
  args = parser.parse_args(argv)
  result, _ = train_reference(args.data, args.epochs, args.batch_size,
                              args.learning_rate, args.seed)
  print(json.dumps(result))
  return 0


if __name__ == '__main__':
  sys.exit(main())
