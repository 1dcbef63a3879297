"""benchmarks/int8_output_layer.py: all-int8 against a float answer layer."""
import os
import sys

import numpy as np

from tests.trainer.conftest import tiny_records  # pylint: disable=unused-import
from tests.trainer.conftest import tiny_student  # pylint: disable=unused-import

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..',
                                'benchmarks'))
import int8_output_layer  # pylint: disable=g-import-not-at-top,wrong-import-position


def test_agreement_counts_ties_among_the_disagreements():
  reference = np.array([[0., 1., 0.], [1., 0., 0.], [0., 0., 1.],
                        [0., 1., 0.]])
  logits = np.array([[0., 1., 0.],      # same top answer
                     [.5, .5, 0.],      # a tie, read as answer 0: same
                     [.7, 0., .7],      # a tie, read as answer 0: differs
                     [1., 0., 0.]])     # differs, no tie
  assert int8_output_layer.agreement(reference, logits) == (0.5, 0.5)


def test_prints_both_files_against_the_keras_model(tiny_student,
                                                   tiny_records, capsys):
  assert int8_output_layer.main(['--model', tiny_student,
                                 '--data', tiny_records]) == 0
  out = capsys.readouterr().out
  rows = [line for line in out.splitlines() if line.startswith('| int8')]
  assert len(rows) == 2, out
  assert 'answer layer float32 (default)' in rows[1]
