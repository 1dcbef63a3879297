"""The distillation loss and the Keras model that trains a student with it."""
import tensorflow as tf

from trainer.data import targets

keras = tf.keras

TEACHER_LOGITS = 'teacher_logits'  # the input that carries precomputed logits


def softened_kl(teacher_logits, student_logits, temperature):
  """Per-example KL(softmax(teacher/T) || softmax(student/T))."""
  teacher_log_p = tf.nn.log_softmax(teacher_logits / temperature, axis=-1)
  student_log_p = tf.nn.log_softmax(student_logits / temperature, axis=-1)
  return tf.reduce_sum(tf.exp(teacher_log_p) * (teacher_log_p - student_log_p),
                       axis=-1)


def distillation_losses(y_true, student_logits, teacher_logits, alpha,
                        temperature, student_loss_fn):
  """Per-example (total, student loss, distillation loss).

  total = alpha * student_loss + (1 - alpha) * T^2 * KL; the T^2 keeps the
  gradients of the softened term on the scale of the student loss's.
  `teacher_logits` None (alpha 1) makes the distillation term 0.
  """
  student_loss = student_loss_fn(y_true, student_logits)
  if teacher_logits is None:
    distill_loss = tf.zeros_like(student_loss)
  else:
    distill_loss = temperature ** 2 * softened_kl(
        tf.cast(teacher_logits, student_logits.dtype), student_logits,
        temperature)
  total = alpha * student_loss + (1 - alpha) * distill_loss
  return total, student_loss, distill_loss


class Distiller(keras.Model):
  """Trains `student` against the targets and the teacher's logits.

  The teacher is called with training=False and is not tracked by this model:
  its weights get no gradient, are not in checkpoints, and never change.
  Inputs may carry precomputed `teacher_logits`; otherwise the teacher runs
  on the batch. Validation measures the student alone (val_loss is the
  student loss).
  """

  def __init__(self, student, teacher=None, alpha=0.1, temperature=4.0,
               student_loss_fn=targets.soft_score_loss, **kwargs):
    super().__init__(**kwargs)
    self.student = student
    # A closure, not an attribute: the teacher stays out of tracking.
    self._teacher_logits = (
        (lambda inputs: teacher(inputs, training=False)) if teacher else None)
    self.alpha = alpha
    self.temperature = temperature
    self.student_loss_fn = student_loss_fn
    self.loss_tracker = keras.metrics.Mean(name='loss')
    self.student_loss_tracker = keras.metrics.Mean(name='student_loss')
    self.distill_loss_tracker = keras.metrics.Mean(name='distillation_loss')

  @property
  def metrics(self):
    return [self.loss_tracker, self.student_loss_tracker,
            self.distill_loss_tracker] + self.compiled_metrics.metrics

  def call(self, inputs, training=None):
    return self.student(_without_teacher_logits(inputs), training=training)

  def _teacher_logits_for(self, inputs):
    if TEACHER_LOGITS in inputs:
      return inputs[TEACHER_LOGITS]
    if self._teacher_logits is None:
      return None
    return tf.stop_gradient(self._teacher_logits(inputs))

  def train_step(self, data):
    inputs, y_true = data
    student_inputs = _without_teacher_logits(inputs)
    teacher_logits = self._teacher_logits_for(inputs)
    if self.alpha == 1:
      teacher_logits = None
    with tf.GradientTape() as tape:
      student_logits = self.student(student_inputs, training=True)
      total, student_loss, distill_loss = distillation_losses(
          y_true, student_logits, teacher_logits, self.alpha,
          self.temperature, self.student_loss_fn)
      loss = tf.nn.compute_average_loss(total)
      if self.student.losses:
        loss += tf.nn.scale_regularization_loss(tf.add_n(self.student.losses))
    variables = self.student.trainable_variables
    self.optimizer.apply_gradients(zip(tape.gradient(loss, variables),
                                       variables))
    # Unlabelled questions (--unlabelled-splits) have no targets: the
    # student loss and the accuracies are averaged over labelled ones.
    labelled = targets.labelled_weights(y_true)
    self.loss_tracker.update_state(total)
    self.student_loss_tracker.update_state(student_loss,
                                           sample_weight=labelled)
    self.distill_loss_tracker.update_state(distill_loss)
    self.compiled_metrics.update_state(y_true, student_logits,
                                       sample_weight=labelled)
    return {metric.name: metric.result() for metric in self.metrics}

  def test_step(self, data):
    inputs, y_true = data
    student_logits = self.student(_without_teacher_logits(inputs),
                                  training=False)
    student_loss = self.student_loss_fn(y_true, student_logits)
    self.loss_tracker.update_state(student_loss)
    self.student_loss_tracker.update_state(student_loss)
    self.compiled_metrics.update_state(y_true, student_logits)
    return {metric.name: metric.result() for metric in self.metrics
            if metric is not self.distill_loss_tracker}


def _without_teacher_logits(inputs):
  return {k: v for k, v in inputs.items() if k != TEACHER_LOGITS}


def compile_distiller(distiller, learning_rate):
  # Weighted metrics: train_step weighs unlabelled questions 0 (Keras ignores
  # sample weights for plain `metrics`).
  distiller.compile(optimizer=keras.optimizers.Adam(learning_rate),
                    weighted_metrics=[targets.vqa_accuracy,
                                      targets.top1_accuracy])
