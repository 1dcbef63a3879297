"""Training targets, losses and the in-graph VQA accuracy.

Keras passes one `y_true` tensor per output, so the label and the K soft
scores travel packed as one float tensor [scores..., label]; `unpack` is the
only place that knows the layout.

Because `answer/scores[k]` is the official VQA accuracy of answering the k-th
vocabulary answer (trainer/vqa_metric.soft_scores), the VQA accuracy of a
prediction is simply scores[argmax(logits)] — exact, on every question written,
including those whose answers are outside the vocabulary (all scores 0).
"""
import tensorflow as tf


def pack(label, scores):
  return tf.concat([tf.cast(scores, tf.float32),
                    tf.cast(label, tf.float32)[..., tf.newaxis]], axis=-1)


def unpack(y_true):
  """(label int32 [B], scores float32 [B, K]) from packed targets."""
  return tf.cast(y_true[..., -1], tf.int32), y_true[..., :-1]


def labelled_weights(y_true):
  """1.0 per question with a label, 0.0 without (label -1)."""
  label, _ = unpack(y_true)
  return tf.cast(label >= 0, tf.float32)


def softmax_label_loss(y_true, logits):
  """Sparse cross-entropy on the label; questions without label weigh 0."""
  label, _ = unpack(y_true)
  losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.maximum(label, 0), logits=logits)
  return losses * labelled_weights(y_true)


def soft_score_loss(y_true, logits):
  """Cross-entropy against the soft VQA scores, normalised to a distribution.

  Questions whose scores are all zero (no vocabulary answer) weigh 0.
  """
  _, scores = unpack(y_true)
  total = tf.reduce_sum(scores, axis=-1, keepdims=True)
  target = tf.math.divide_no_nan(scores, total)
  losses = tf.nn.softmax_cross_entropy_with_logits(labels=target,
                                                   logits=logits)
  return losses * tf.cast(total[..., 0] > 0, tf.float32)


LOSSES = {'softmax': softmax_label_loss, 'soft': soft_score_loss}


def vqa_accuracy(y_true, logits):
  """Per-example official VQA accuracy of the top answer."""
  _, scores = unpack(y_true)
  predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
  return tf.gather(scores, predicted, batch_dims=1)


def top1_accuracy(y_true, logits):
  """Per-example 1.0 when the top answer is the label (0 when unlabelled)."""
  label, _ = unpack(y_true)
  predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
  return tf.cast(tf.equal(predicted, label), tf.float32)
