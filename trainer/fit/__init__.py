"""Fitting jobs over tf.distribute: the teacher (train), distillation, pruning,
and what they share (config, callbacks, outputs, cached encoder features)."""
