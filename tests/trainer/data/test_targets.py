"""Losses and the in-graph VQA accuracy on hand-computed examples."""
import numpy as np
import pytest
import tensorflow as tf

from trainer.data import targets


def packed(labels, scores):
  return targets.pack(tf.constant(labels), tf.constant(scores, tf.float32))


def test_pack_round_trips():
  y = packed([2, -1], [[0.0, 0.3, 1.0], [0.0, 0.0, 0.0]])
  label, scores = targets.unpack(y)
  assert label.numpy().tolist() == [2, -1]
  assert scores.numpy() == pytest.approx(np.array([[0, 0.3, 1], [0, 0, 0]]))


def test_vqa_accuracy_is_the_score_of_the_top_answer():
  y = packed([2, 0, -1], [[0.0, 0.3, 1.0], [0.9, 0.6, 0.0], [0, 0, 0]])
  logits = tf.constant([[0.0, 5.0, 1.0], [2.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
  assert targets.vqa_accuracy(y, logits).numpy() == pytest.approx(
      [0.3, 0.9, 0.0])
  assert targets.top1_accuracy(y, logits).numpy().tolist() == [0, 1, 0]


def test_softmax_loss_is_cross_entropy_on_the_label_and_skips_unlabelled():
  y = packed([1, -1], [[0.0, 1.0], [0.0, 0.0]])
  logits = tf.constant([[0.0, 0.0], [3.0, -3.0]])
  losses = targets.softmax_label_loss(y, logits).numpy()
  assert losses == pytest.approx([np.log(2.0), 0.0])


def test_soft_loss_uses_the_normalised_scores():
  y = packed([0, -1], [[1.0, 0.6, 0.0, 0.0], [0, 0, 0, 0]])
  logits = tf.math.log(tf.constant([[0.5, 0.25, 0.125, 0.125],
                                    [0.25, 0.25, 0.25, 0.25]]))
  target = np.array([1.0, 0.6]) / 1.6
  expected = -(target[0] * np.log(0.5) + target[1] * np.log(0.25))
  assert targets.soft_score_loss(y, logits).numpy() == pytest.approx(
      [expected, 0.0], rel=1e-5)
