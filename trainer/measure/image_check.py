"""The image-branch check: does the model look at the image?

The same trained model is scored twice on the same questions: once with each
question's own image, once with the images moved among the questions of each
batch (every question gets the image of the next *other* image in the batch).
No retraining. A model whose answers depend on the image loses accuracy when
the images are moved; one that ignores the image (a frozen random encoder, a
1x1 feature map, too small a learning rate) scores the same both ways.
"""
import sys

import numpy as np
import tensorflow as tf

from trainer.data import input_pipeline

# Below this gap (in VQA accuracy) `vqa train` warns that the image branch
# contributes almost nothing.
SMALL_GAP = 0.05
LIKELY_CAUSES = (
    'a frozen image encoder without pretrained weights (random features)',
    'too coarse a feature map for the image size (--image-feature-stride)',
    'too few epochs or too small a learning rate for the image branch',
    'data whose answers do not depend on the image')


def other_image_order(image_ids):
  """For each question of a batch, the index of a question whose image is
  the next distinct image of the batch (cyclically); a question with the
  same image when the batch holds a single image."""
  unique_ids, group = tf.unique(image_ids)
  groups = tf.size(unique_ids)
  first_of_group = tf.math.unsorted_segment_min(
      tf.range(tf.size(image_ids)), group, groups)
  return tf.gather(first_of_group, (group + 1) % groups)


def with_moved_images(inputs, image_ids):
  """Model inputs whose images are moved to other questions of the batch."""
  moved = dict(inputs)
  moved[input_pipeline.IMAGE] = tf.gather(inputs[input_pipeline.IMAGE],
                                          other_image_order(image_ids))
  return moved


def _accuracy(logits, scores):
  predicted = np.argmax(np.asarray(logits), axis=-1)
  return scores[np.arange(len(predicted)), predicted]


def _batches(spec, split, batch_size, max_questions):
  """(model inputs, soft scores, image ids) of a split's written questions."""
  dataset = input_pipeline.make_dataset(spec, split, batch_size,
                                        training=False, deterministic=True,
                                        for_keras=False)
  if max_questions:
    dataset = dataset.take(-(-max_questions // batch_size))
  for batch in dataset:
    inputs, _ = input_pipeline.to_model_inputs(batch)
    yield inputs, batch['scores'].numpy(), batch['image_id']


def measure(logits_of, spec, split, batch_size=64, max_questions=0):
  """VQA accuracy on a split's written questions, with their own images and
  with moved ones.

  Args:
    logits_of: maps a batch of model inputs to [B, K] logits (a Keras model,
      a TFLite interpreter...).
    spec: DataSpec of the preprocessed folder.
    split: e.g. 'val2014'.
    batch_size: questions per batch (the images move within a batch).
    max_questions: score only the first this many questions (0: all).

  Returns:
    {'questions', 'vqa_accuracy', 'vqa_accuracy_shuffled_images', 'gap'}.
  """
  own, moved = [], []
  for inputs, scores, image_ids in _batches(spec, split, batch_size,
                                            max_questions):
    own.append(_accuracy(logits_of(inputs), scores))
    moved.append(_accuracy(logits_of(with_moved_images(inputs, image_ids)),
                           scores))
  own, moved = np.concatenate(own), np.concatenate(moved)
  accuracy, shuffled = float(own.mean()), float(moved.mean())
  return {'split': split, 'questions': int(len(own)), 'vqa_accuracy': accuracy,
          'vqa_accuracy_shuffled_images': shuffled, 'gap': accuracy - shuffled}


def moved_images_accuracy(logits_of, spec, split, batch_size=64):
  """measure()'s 'vqa_accuracy_shuffled_images' alone, in one pass: for a
  caller that scores the questions with their own images anyway."""
  moved = [_accuracy(logits_of(with_moved_images(inputs, image_ids)), scores)
           for inputs, scores, image_ids in _batches(spec, split, batch_size,
                                                     0)]
  return float(np.concatenate(moved).mean())


def describe(check):
  """One line: both accuracies and the gap."""
  return (f'image-branch check on {check["split"]} ({check["questions"]} '
          f'questions): VQA accuracy {check["vqa_accuracy"]:.4f} with their '
          f'own images, {check["vqa_accuracy_shuffled_images"]:.4f} with '
          f'images moved among the questions (gap {check["gap"]:.4f})')


def warning(check):
  """The warning for a model that barely uses the image, or None."""
  if check['gap'] >= SMALL_GAP:
    return None
  causes = '; '.join(LIKELY_CAUSES)
  return (f'warning: the image branch contributes almost nothing (moving the '
          f'images costs {check["gap"]:.4f} VQA accuracy, less than '
          f'{SMALL_GAP}). Likely causes: {causes}.')


def print_check(check):
  """Prints the check's line, and its warning (to stderr) when the gap is
  small; nothing for a model without image (check None)."""
  if check is None:
    return
  print(describe(check), flush=True)
  message = warning(check)
  if message:
    print(message, file=sys.stderr, flush=True)
