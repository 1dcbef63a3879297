"""The note after a fit that stopped while the model was still learning."""
from trainer.fit import convergence


def _history(val, train):
  return {'val_vqa_accuracy': val, 'vqa_accuracy': train}


def test_still_rising_and_close_to_training_underfits():
  # The demo teacher's curves (8 epochs).
  result = convergence.check(_history(
      [0.677, 0.739, 0.782, 0.801, 0.807, 0.826, 0.834, 0.834],
      [0.572, 0.706, 0.771, 0.807, 0.820, 0.842, 0.855, 0.857]))
  assert result['underfits']
  assert abs(result['val_rise'] - (0.834 - 0.807)) < 1e-9
  note = convergence.describe(result)
  assert note.startswith('note: the model is still learning')
  assert '--epochs' in note


def test_converged_or_overfitting_runs_get_no_note():
  flat = convergence.check(_history([0.70, 0.80, 0.801, 0.802, 0.801],
                                    [0.70, 0.81, 0.82, 0.82, 0.82]))
  assert not flat['underfits'] and convergence.describe(flat) is None
  overfit = convergence.check(_history([0.60, 0.65, 0.68, 0.70, 0.72],
                                       [0.70, 0.80, 0.88, 0.93, 0.97]))
  assert not overfit['underfits']


def test_too_few_epochs_to_tell():
  assert convergence.check(_history([0.5, 0.6], [0.5, 0.6])) is None
  assert convergence.describe(None) is None
