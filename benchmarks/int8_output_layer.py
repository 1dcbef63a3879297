"""What the float answer layer of `vqa export-tflite --quantize int8` buys.

  python benchmarks/int8_output_layer.py --model demo_output/student_pruned \
      --data demo_output/tfrecords [--split val2014]

Converts one model to int8 twice in the same run, all-int8 (the answer layer
too) and with the answer layer float32 (the default), and runs both and the
Keras model on every question of --split, from the same token ids and
pixels (so only quantisation differs). Prints, for each file: its bytes, the
share of questions whose top answer is the Keras model's, and how many of
the others are exact ties between the file's two best answers (an int8
output has 256 levels).
"""
import argparse
import sys

import numpy as np

from trainer.data import input_pipeline
from trainer.models import model_io
from trainer.serve import tflite_export


def all_logits(loaded, runners, spec, split, batch=256):
  """(Keras logits, {name: file logits}) over every question of `split`."""
  dataset = input_pipeline.make_dataset(spec, split, batch, training=False,
                                        deterministic=True, for_keras=False)
  keras, files = [], {name: [] for name in runners}
  for features in dataset:
    inputs = {name: tensor.numpy() for name, tensor in
              input_pipeline.to_model_inputs(features)[0].items()}
    keras.append(loaded.model(inputs, training=False).numpy())
    for name, runner in runners.items():
      files[name].append(runner.logits(inputs))
  return (np.concatenate(keras),
          {name: np.concatenate(parts) for name, parts in files.items()})


def agreement(reference, logits):
  """(share of equal top answers, share of the disagreements that are ties
  between the file's two best logits)."""
  differ = reference.argmax(-1) != logits.argmax(-1)
  best_two = np.sort(logits, axis=-1)[:, -2:]
  ties = best_two[:, 0] == best_two[:, 1]
  tied_share = float(ties[differ].mean()) if differ.any() else 0.0
  return 1 - float(differ.mean()), tied_share


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawTextHelpFormatter)
  parser.add_argument('--model', required=True, help='a trained MODEL_DIR')
  parser.add_argument('--data', required=True, help='its records')
  parser.add_argument('--split', default='val2014')
  args = parser.parse_args(argv)
  loaded = model_io.load_model(args.model)
  spec = input_pipeline.read_data_spec(args.data)
  contents = {
      'int8, answer layer int8': tflite_export.convert(
          loaded, spec, 'int8', float_answer_layer=False),
      'int8, answer layer float32 (default)': tflite_export.convert(
          loaded, spec, 'int8'),
  }
  runners = {name: tflite_export.TFLiteRunner(content)
             for name, content in contents.items()}
  reference, files = all_logits(loaded, runners, spec, args.split)
  print(f'{args.model}, {len(reference)} questions of {args.split}')
  print('| file | bytes | top answer = Keras | ties among the others |')
  print('|---|---|---|---|')
  for name, logits in files.items():
    same, tied = agreement(reference, logits)
    print(f'| {name} | {len(contents[name]):,} | {same:.2%} | {tied:.0%} |')
  return 0


if __name__ == '__main__':
  sys.exit(main())
