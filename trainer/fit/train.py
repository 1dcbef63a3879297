"""`vqa train`: the teacher (or the question-only baseline) on the TFRecords.

  vqa train --data OUT --output MODEL_DIR [--epochs 10] [--batch-size 32]
      [--strategy auto|mirrored|multiworker|one] [--cache-frozen-features]

The same command runs on one CPU, one GPU, all GPUs of a machine
(MirroredStrategy) and several machines (MultiWorkerMirroredStrategy from
TF_CONFIG). Running it again with the same --output resumes an interrupted run
at the epoch where it stopped.
"""
import argparse
import dataclasses
import sys
import time

import tensorflow as tf

from trainer.data import feature_cache
from trainer.data import input_pipeline
from trainer.data import targets
from trainer.fit import callbacks
from trainer.fit import defaults
from trainer.fit import distribution
from trainer.fit import fit_setup
from trainer.fit import outputs
# The flags below (add_fit_flags, config_from_args) read these two names.
from trainer.fit.fit_config import FitConfig
from trainer.fit.fit_config import LEARNING_RATE_SCHEDULES
from trainer.models import model_io
from trainer.models import multimodal
from trainer.models import text_encoder

keras = tf.keras


FIT_FLAGS_HELP = {
    'batch_size': 'per replica; the global batch is this x replicas',
    'steps_per_epoch': '0: one pass over the training split',
    'validation_steps': '0: the whole validation split',
    'verbose': 'Keras progress: 1 = bar, 2 = a line per epoch',
    'learning_rate': '0 (default): 2e-3 x sqrt(global batch / 32)',
    'image_check_questions': 'validation questions of the image-branch '
                             'check (0: skip it)',
}


def add_fit_flags(parser, defaults, skip=()):
  """--train-split ... --verbose, with `defaults` (a FitConfig) as defaults."""
  for field in dataclasses.fields(FitConfig):
    name = field.name
    if name in ('data', 'output', 'export') + tuple(skip):  # always export
      continue
    flag = '--' + name.replace('_', '-')
    default = getattr(defaults, name)
    if field.type == 'bool' or isinstance(default, bool):
      parser.add_argument(flag, action='store_true')
    elif name == 'loss':
      parser.add_argument(flag, default=default, choices=sorted(targets.LOSSES))
    elif name == 'learning_rate_schedule':
      parser.add_argument(flag, default=default,
                          choices=LEARNING_RATE_SCHEDULES)
    elif name == 'strategy':
      parser.add_argument(flag, default=default,
                          choices=distribution.STRATEGIES)
    else:
      parser.add_argument(flag, type=type(default), default=default,
                          help=FIT_FLAGS_HELP.get(name))


@dataclasses.dataclass(frozen=True)
class TrainConfig(FitConfig):
  """A training job; written to MODEL_DIR/config.json with the data facts."""
  model: multimodal.ModelConfig = multimodal.ModelConfig()
  mixed_precision: bool = False
  cache_frozen_features: bool = None  # None: whenever an encoder is frozen
  cache_dir: str = ''  # converted text-encoder checkpoints; '' = default

  def check(self):
    self.model.check()
    self.check_fit()


def _cache_choices(config):
  """Which frozen encoders to replace by cached features."""
  if not config.cache_frozen_features:
    return False, False
  model = config.model
  return model.text_frozen, model.uses_image and model.image_frozen


def _datasets(config, spec, layers, global_batch):
  """(train, val) datasets shaped for the model being fitted."""
  cache_text, cache_image = _cache_choices(config)
  decode = config.model.uses_image and not cache_image
  make = lambda split, training: input_pipeline.make_dataset(
      spec, split, global_batch, training=training,
      deterministic=config.deterministic, seed=config.seed,
      for_keras=not (cache_text or cache_image), decode_images=decode,
      drop_labelless=training)
  train, val = make(config.train_split, True), make(config.val_split, False)
  if not (cache_text or cache_image):
    return train, val
  splits = (config.train_split, config.val_split)
  text_table = (feature_cache.compute_text_features(
      layers, spec, splits, global_batch) if cache_text else None)
  image_table = (feature_cache.compute_image_features(
      layers, spec, splits, global_batch) if cache_image else None)
  return (feature_cache.with_cached_features(train, text_table, image_table),
          feature_cache.with_cached_features(val, text_table, image_table))


def resolve_config(config, spec, global_batch):
  """(config with every default decided, [defaults.Choice]).

  The records decide the image size; defaults.py what depends on it, on the
  pretrained weights and on the global batch.
  """
  config.check()
  model = dataclasses.replace(config.model, image_size=spec.image_size)
  model, choices = defaults.resolve_image_choices(model)
  config = dataclasses.replace(config, model=model)
  config, rate_choices = defaults.resolve_learning_rate(config, global_batch)
  config, cache_choices = defaults.resolve_feature_cache(config)
  config.model.check_resolved()
  return config, choices + rate_choices + cache_choices


@input_pipeline.names_damaged_shards
def train_and_evaluate(config, strategy=None, extra_callbacks=()):
  """Trains, validates every epoch, saves; returns the final metrics.

  Args:
    config: TrainConfig.
    strategy: a tf.distribute strategy; default from config.strategy.
    extra_callbacks: more Keras callbacks (e.g. a Ray Tune reporter).

  Returns:
    dict with 'history' (per-epoch metrics), 'val' (final validation metrics)
    and 'train_seconds'.
  """
  # First: a multi-worker strategy must exist before TensorFlow initialises.
  strategy = strategy or distribution.make_strategy(config.strategy)
  spec = input_pipeline.read_data_spec(config.data)
  global_batch = config.batch_size * strategy.num_replicas_in_sync
  config, choices = resolve_config(config, spec, global_batch)
  fit_setup.seed_everything(config)
  if config.mixed_precision:
    keras.mixed_precision.set_global_policy('mixed_float16')
  chief = distribution.is_chief(strategy)
  if chief:
    print(defaults.format_choices(choices), flush=True)
  output = distribution.worker_dir(config.output, strategy)
  cache_text, cache_image = _cache_choices(config)
  steps = fit_setup.steps_per_epoch(config, spec, global_batch)
  with strategy.scope():
    layers = model_io.build_layers(config.model, spec, config.cache_dir)
    if cache_text or cache_image:
      fitted = multimodal.head_model(layers, spec.max_question_tokens, cache_text,
                                 cache_image)
    else:
      fitted = multimodal.full_model(layers, spec.max_question_tokens)
    fit_setup.compile_model(fitted, config, steps * config.epochs)
  train, val = _datasets(config, spec, layers, global_batch)
  start = time.monotonic()
  history = fitted.fit(
      train, epochs=config.epochs, steps_per_epoch=steps,
      validation_data=val, validation_steps=config.validation_steps or None,
      callbacks=(callbacks.training_callbacks(config, output, chief) +
                 list(extra_callbacks)),
      verbose=config.verbose)
  seconds = time.monotonic() - start
  val_metrics = fitted.evaluate(val, steps=config.validation_steps or None,
                                return_dict=True, verbose=0)
  with strategy.scope():
    model = multimodal.full_model(layers, spec.max_question_tokens)
  summary = outputs.history_summary(history, val_metrics, seconds, strategy,
                                    global_batch)
  outputs.add_choices_and_image_check(summary, choices, model, config, spec,
                                      global_batch, chief)
  return outputs.save_outputs(model, config, spec, output, chief, summary,
                              extra={'choices': summary['choices']})


def add_model_flags(parser):
  model_defaults = multimodal.ModelConfig()
  parser.add_argument('--model', dest='kind', default=model_defaults.kind,
                      choices=('teacher', 'question-only'))
  parser.add_argument('--text-encoder', default=model_defaults.text_encoder,
                      help='bundled all-MiniLM-L6-v2, a local or gs:// '
                      'directory, a hub name, or "tiny" (random, for tests)')
  parser.add_argument('--text-trainable-layers', type=int,
                      default=model_defaults.text_trainable_layers,
                      help='fine-tune the top N BERT layers (0: frozen)')
  parser.add_argument('--text-pooling', default=model_defaults.text_pooling,
                      choices=('mean', 'pooled'))
  parser.add_argument('--image-weights', default=model_defaults.image_weights,
                      help='imagenet (downloads), none, or a weights file')
  parser.add_argument('--image-alpha', type=float,
                      default=model_defaults.image_alpha)
  trainable = parser.add_mutually_exclusive_group()
  trainable.add_argument('--image-trainable', dest='image_trainable',
                         action='store_const', const=True,
                         default=model_defaults.image_trainable,
                         help='train MobileNetV2 (default without pretrained '
                         'weights)')
  trainable.add_argument('--image-frozen', dest='image_trainable',
                         action='store_const', const=False,
                         help='freeze MobileNetV2 (default over pretrained '
                         'weights; refused without them)')
  parser.add_argument('--image-feature-stride', type=int,
                      default=model_defaults.image_feature_stride,
                      choices=[0] + sorted(multimodal.MOBILENET_STRIDE_LAYERS),
                      help='MobileNetV2 up to this output stride; 0 '
                      '(default): the deepest layer whose map is at least '
                      '6x6 at the records\' image size')
  parser.add_argument('--image-augment', nargs='?', const='flip',
                      default=model_defaults.image_augment,
                      choices=multimodal.AUGMENTATIONS,
                      help='while training: flip (horizontal flips; the '
                      'default when the flag has no value) or flip-rotate '
                      '(all 8 flips and right-angle rotations); only for '
                      'answers that do not depend on orientation')
  parser.add_argument('--fusion-width', type=int,
                      default=model_defaults.fusion_width)
  parser.add_argument('--hidden-width', type=int,
                      default=model_defaults.hidden_width)
  parser.add_argument('--dropout', type=float, default=model_defaults.dropout)


def model_config_from_args(args):
  return multimodal.ModelConfig(
      kind=args.kind, text_encoder=args.text_encoder,
      text_trainable_layers=args.text_trainable_layers,
      text_pooling=args.text_pooling, image_weights=args.image_weights,
      image_alpha=args.image_alpha, image_trainable=args.image_trainable,
      image_feature_stride=args.image_feature_stride,
      image_augment=args.image_augment,
      fusion_width=args.fusion_width, hidden_width=args.hidden_width,
      dropout=args.dropout)


def build_parser():
  job_defaults = TrainConfig()
  parser = argparse.ArgumentParser(
      prog='vqa train', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--data', required=True, help='`vqa preprocess` output')
  parser.add_argument('--output', required=True, help='model directory')
  add_model_flags(parser)
  add_fit_flags(parser, job_defaults)
  parser.add_argument('--mixed-precision', action='store_true')
  parser.add_argument('--cache-frozen-features',
                      action=argparse.BooleanOptionalAction,
                      default=job_defaults.cache_frozen_features,
                      help='compute frozen encoders once, train the rest '
                      '(default: whenever an encoder is frozen)')
  parser.add_argument('--cache-dir', default=job_defaults.cache_dir,
                      help='where converted text encoders are kept '
                      '(default $VQA_CACHE_DIR or ~/.cache/vqa)')
  return parser


def config_from_args(args):
  """TrainConfig from the parsed flags (every FitConfig flag included)."""
  fit = {field.name: getattr(args, field.name)
         for field in dataclasses.fields(FitConfig) if hasattr(args, field.name)}
  fit.update(data=args.data.rstrip('/'), output=args.output.rstrip('/'))
  return TrainConfig(
      model=model_config_from_args(args),
      mixed_precision=args.mixed_precision,
      cache_frozen_features=args.cache_frozen_features,
      cache_dir=args.cache_dir, **fit)


def fields_from_config_file(args, argv):
  """Job fields: --config's JSON overridden by the flags on the command line.

  Without --config, every flag (given or default) is a field. Folder paths
  lose a trailing slash.
  """
  fields = dict(model_io.read_json(args.config)) if args.config else {}
  given = {arg.split('=')[0][2:].replace('-', '_') for arg in argv
           if arg.startswith('--')}
  for name, value in vars(args).items():
    if name != 'config' and (not args.config or name in given):
      fields[name] = value
  for name in ('data', 'output'):
    fields[name] = fields[name].rstrip('/')
  return fields


def dataclass_from_fields(cls, fields, source):
  """cls(**fields), naming the file when it holds fields cls lacks."""
  unknown = set(fields) - {field.name for field in dataclasses.fields(cls)}
  if unknown:
    raise ValueError(f'{source or "flags"}: unknown {cls.__name__} fields '
                     f'{sorted(unknown)}')
  return cls(**fields)


def main(argv=None):
  args = build_parser().parse_args(argv)
  try:
    summary = train_and_evaluate(config_from_args(args))
  except (ValueError, FileNotFoundError, text_encoder.TextEncoderError) as e:
    print(f'vqa train: error: {e}', file=sys.stderr)
    return 2
  val = summary['val']
  print(f'validation: VQA accuracy {val["vqa_accuracy"]:.4f}, top-1 '
        f'{val["top1_accuracy"]:.4f} after {summary["epochs_run"]} epochs '
        f'({summary["train_seconds"]:.1f} s); model in {args.output}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
