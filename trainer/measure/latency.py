"""Latency: fixed inputs from a split, timed calls, and the machine timed on."""
import os
import platform
import time

import numpy as np
import tensorflow as tf

from trainer.data import input_pipeline


# Latency.


def latency_inputs(spec, split, batch_size, uses_image):
  """Numpy model inputs from the split's first questions, `batch_size` rows.

  A split with fewer questions is repeated to fill the batch.
  """
  dataset = input_pipeline.make_dataset(
      spec, split, batch_size, training=False, deterministic=True,
      for_keras=False, decode_images=uses_image)
  batch = next(iter(dataset))
  inputs, _ = input_pipeline.to_model_inputs(batch)
  rows = np.arange(batch_size) % int(batch['label'].shape[0])
  return {name: value.numpy()[rows] for name, value in inputs.items()}


def seconds_per_call(logits_of, inputs, repeats):
  """Mean wall time of `logits_of(inputs)` after one untimed warm-up call.

  The warm-up pays for tracing (tf.function) or tensor allocation (TFLite).
  """
  logits_of(inputs)
  start = time.perf_counter()
  for _ in range(repeats):
    logits_of(inputs)
  return (time.perf_counter() - start) / repeats


def latency_figures(logits_of, inputs, batch_sizes, repeats):
  """{ms_per_example_bB, examples_per_s_bB} for each batch size B."""
  figures = {}
  for batch_size in batch_sizes:
    batch = {name: value[:batch_size] for name, value in inputs.items()}
    seconds = seconds_per_call(logits_of, batch, repeats)
    figures[f'ms_per_example_b{batch_size}'] = 1000 * seconds / batch_size
    figures[f'examples_per_s_b{batch_size}'] = batch_size / seconds
  return figures


def machine_description():
  """Where the latencies were measured: CPU and any GPUs TensorFlow sees."""
  gpus = [tf.config.experimental.get_device_details(gpu).get('device_name',
                                                            gpu.name)
          for gpu in tf.config.list_physical_devices('GPU')]
  cpu = platform.processor() or platform.machine()
  return (f'{platform.system()} {cpu}, {os.cpu_count()} CPUs' +
          (f', GPU: {", ".join(gpus)}' if gpus else ', no GPU') +
          f', TensorFlow {tf.__version__}')
