"""`vqa predict`: ask the exported model a question about a picture.

  vqa predict --model MODEL_DIR --image photo.jpg --question "What color is the bus?"
  vqa predict --model MODEL_DIR --batch questions.jsonl   # {"image": ..., "question": ...} per line

Uses only MODEL_DIR/export (the SavedModel), as a deployment would.
"""
import argparse
import json
import os
import sys

import tensorflow as tf
import tensorflow_text  # pylint: disable=unused-import  (registers the tokenizer ops)

from trainer.serve import export


def load_serving_function(model_dir):
  path = os.path.join(model_dir, export.EXPORT_DIR)
  if not tf.io.gfile.exists(path):
    raise FileNotFoundError(f'{path}: no exported model; train it first')
  return tf.saved_model.load(path).signatures[export.SIGNATURE]


def read_requests(batch_path):
  """[(image path, question)] from a JSONL file."""
  requests = []
  with tf.io.gfile.GFile(batch_path) as f:
    for number, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        item = json.loads(line)
        requests.append((item['image'], item['question']))
      except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f'{batch_path}:{number}: expected '
                         f'{{"image": path, "question": text}} ({e})') from e
  return requests


def predict(serve, requests):
  """[(question, [(answer, probability)])] for [(image path, question)]."""
  images = []
  for path, _ in requests:
    with tf.io.gfile.GFile(path, 'rb') as f:
      images.append(f.read())
  outputs = serve(image_bytes=tf.constant(images),
                  question=tf.constant([q for _, q in requests]))
  answers = outputs['answers'].numpy()
  probabilities = outputs['probabilities'].numpy()
  return [(question, [(a.decode(), float(p)) for a, p in zip(row_a, row_p)])
          for (_, question), row_a, row_p in zip(requests, answers,
                                                  probabilities)]


def main(argv=None):
  parser = argparse.ArgumentParser(prog='vqa predict', description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--model', required=True)
  parser.add_argument('--image')
  parser.add_argument('--question')
  parser.add_argument('--batch', help='JSONL file of {"image", "question"}')
  args = parser.parse_args(argv)
  if bool(args.batch) == bool(args.image and args.question):
    parser.error('give either --image and --question, or --batch')
  try:
    requests = (read_requests(args.batch) if args.batch
                else [(args.image, args.question)])
    results = predict(load_serving_function(args.model), requests)
  except (ValueError, FileNotFoundError, tf.errors.NotFoundError) as e:
    print(f'vqa predict: error: {e}', file=sys.stderr)
    return 2
  for question, top in results:
    print(question)
    for answer, probability in top:
      print(f'  {probability:6.1%}  {answer}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
