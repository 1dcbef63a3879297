"""The Keras callbacks every fitting job uses."""
import os

import tensorflow as tf

keras = tf.keras


def training_callbacks(config, output, chief, early_stopping=True):
  """Per-epoch checkpoints, resume state, early stopping, TensorBoard."""
  callbacks = [
      keras.callbacks.BackupAndRestore(os.path.join(output, 'backup')),
      keras.callbacks.ModelCheckpoint(
          os.path.join(output, 'checkpoints', 'epoch-{epoch:03d}'),
          save_weights_only=True),
  ]
  if early_stopping and config.early_stopping_patience:
    callbacks.append(keras.callbacks.EarlyStopping(
        monitor='val_vqa_accuracy', mode='max',
        patience=config.early_stopping_patience, restore_best_weights=True))
  if chief:
    callbacks.append(keras.callbacks.TensorBoard(os.path.join(output, 'logs')))
  return callbacks
