"""Did the fit stop while the model was still learning? Read from the
per-epoch history a fit writes (history.json).

A model underfits when validation accuracy was still rising over the last
epochs and training accuracy is close to it: it has not learnt all the
training data allows, and more epochs or a higher learning rate would help.
(Far above it, the model overfits instead; flat, it has converged.)
"""
# Epochs looked back over, and the rise in validation VQA accuracy over them
# that counts as still learning.
LAST_EPOCHS = 3
MIN_RISE = 0.005
# Training minus validation accuracy below this: not overfitting.
CLOSE_GAP = 0.05
VAL_METRIC = 'val_vqa_accuracy'
TRAIN_METRIC = 'vqa_accuracy'


def check(history):
  """{'underfits', 'val_rise', 'train_val_gap', 'last_epochs'} from a fit's
  per-epoch metrics ({name: [value per epoch]}), or None when the fit ran
  too few epochs to tell."""
  val, train = history.get(VAL_METRIC, []), history.get(TRAIN_METRIC, [])
  if len(val) <= LAST_EPOCHS or len(train) != len(val):
    return None
  rise = val[-1] - val[-1 - LAST_EPOCHS]
  gap = train[-1] - val[-1]
  return {'underfits': rise >= MIN_RISE and gap < CLOSE_GAP,
          'val_rise': rise, 'train_val_gap': gap, 'last_epochs': LAST_EPOCHS}


def describe(result):
  """The line printed after a fit that underfits, else None."""
  if not result or not result['underfits']:
    return None
  return (f'note: the model is still learning: validation VQA accuracy rose '
          f'{result["val_rise"]:.4f} over the last {result["last_epochs"]} '
          f'epochs and training accuracy is only '
          f'{result["train_val_gap"]:.4f} above it; more --epochs or a higher '
          '--learning-rate would help')
