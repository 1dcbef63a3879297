"""Training throughput on the sample data, ratios measured in the same run.

  python benchmarks/train_bench.py [--images 300] [--image-size 64] [--steps 30]

Measures, on one generated + preprocessed data set:
  1. the tf.data input pipeline alone (examples/s) against the teacher's
     training step (examples/s): the input must outrun the model (>= 5x);
  2. training with the frozen MiniLM run in the graph at every step against
     training on cached frozen features (--cache-frozen-features).
Absolute numbers drift on a shared machine; compare the ratios.
"""
import argparse
import dataclasses
import os
import sys
import tempfile
import time

import trainer  # pylint: disable=unused-import  (sets TF_USE_LEGACY_KERAS)
import tensorflow as tf

from beam_pipelines import preprocess
from beam_pipelines import sample_data
from trainer.data import input_pipeline
from trainer.models import multimodal
from trainer.fit import train


@dataclasses.dataclass(frozen=True)
class BenchConfig:
  images: int = 300
  image_size: int = 64
  batch_size: int = 64
  steps: int = 30
  work_dir: str = ''


def prepare_records(config, work_dir):
  raw = os.path.join(work_dir, 'raw')
  sample_data.generate(raw, sample_data.SampleDataConfig(
      images_per_split=config.images, image_size=config.image_size))
  records = os.path.join(work_dir, 'records')
  preprocess.run_preprocess(preprocess.PreprocessConfig(
      data_dir=raw, output=records, image_size=config.image_size,
      num_shards=4), ['--direct_running_mode=in_memory'])
  return records


def input_examples_per_second(records, config):
  """Examples/s of parse + decode + shuffle + batch, no model."""
  spec = input_pipeline.read_data_spec(records)
  dataset = input_pipeline.make_dataset(spec, 'train2014', config.batch_size,
                                        training=True)
  iterator = iter(dataset)
  for _ in range(5):
    next(iterator)
  start = time.perf_counter()
  for _ in range(config.steps * 4):
    next(iterator)
  return config.steps * 4 * config.batch_size / (time.perf_counter() - start)


def training_examples_per_second(records, config, work_dir, name, **fields):
  """Examples/s of fit() after a warm-up epoch (tracing excluded)."""
  model = multimodal.ModelConfig(image_weights='none', image_alpha=0.35,
                             image_trainable=True)
  train_config = train.TrainConfig(
      data=records, output=os.path.join(work_dir, name), model=model,
      epochs=2, batch_size=config.batch_size, steps_per_epoch=config.steps,
      validation_steps=1, export=False, verbose=0, **fields)
  epoch_times = []

  class EpochTimer(tf.keras.callbacks.Callback):

    def on_epoch_begin(self, epoch, logs=None):
      self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
      epoch_times.append(time.perf_counter() - self.start)

  start = time.perf_counter()
  train.train_and_evaluate(train_config, extra_callbacks=[EpochTimer()])
  total = time.perf_counter() - start
  # Epoch 2 excludes tracing and feature caching; the validation step is tiny.
  return config.steps * config.batch_size / epoch_times[-1], total


def main(argv=None):
  defaults = BenchConfig()
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument('--images', type=int, default=defaults.images)
  parser.add_argument('--image-size', type=int, default=defaults.image_size)
  parser.add_argument('--batch-size', type=int, default=defaults.batch_size)
  parser.add_argument('--steps', type=int, default=defaults.steps)
  parser.add_argument('--work-dir', default='')
  args = parser.parse_args(argv)
  config = BenchConfig(args.images, args.image_size, args.batch_size,
                       args.steps, args.work_dir)
  with tempfile.TemporaryDirectory(dir=config.work_dir or None) as work_dir:
    records = prepare_records(config, work_dir)
    input_rate = input_examples_per_second(records, config)
    in_graph, in_graph_total = training_examples_per_second(
        records, config, work_dir, 'in_graph')
    cached, cached_total = training_examples_per_second(
        records, config, work_dir, 'cached', cache_frozen_features=True)
  print(f'cores: {os.cpu_count()}; batch {config.batch_size}; '
        f'{config.image_size} px; {config.steps} steps per epoch')
  print(f'{"variant":<44}{"examples/s":>12}')
  print(f'{"tf.data input pipeline alone":<44}{input_rate:12.0f}')
  print(f'{"train, frozen MiniLM in the graph":<44}{in_graph:12.0f}')
  print(f'{"train, cached frozen features":<44}{cached:12.0f}')
  print(f'input / training (in-graph):  {input_rate / in_graph:6.1f}x')
  print(f'input / training (cached):    {input_rate / cached:6.1f}x')
  print(f'cached / in-graph training:   {cached / in_graph:6.1f}x per step; '
        f'whole run incl. tracing and caching: {in_graph_total:.0f} s vs '
        f'{cached_total:.0f} s')
  return 0


if __name__ == '__main__':
  sys.exit(main())
