"""benchmarks/reference_cnn.py: the plain CNN the teacher is compared with."""
import os
import sys

import numpy as np

from tests.trainer.conftest import tiny_records  # pylint: disable=unused-import
from trainer.data import input_pipeline

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..',
                                'benchmarks'))
import reference_cnn  # pylint: disable=g-import-not-at-top,wrong-import-position


def test_the_image_model_is_four_conv_blocks_with_batch_norm_and_pooling():
  model = reference_cnn.reference_model(32, 16, 5)
  names = [layer.name for layer in model.layers]
  for index in range(4):
    assert {f'block{index}_conv', f'block{index}_bn'} <= set(names)
  # Max pooling after the first three blocks only: a 12x12 map at 96 px.
  assert [name for name in names if name.endswith('_pool')] == [
      'block0_pool', 'block1_pool', 'block2_pool']
  assert not any(name.startswith('block4') for name in names)
  assert model.output_shape == (None, 5)
  assert any('global_average_pooling' in name for name in names)


def test_trained_on_the_records_it_answers_from_raw_inputs(tiny_records):
  result, logits_of = reference_cnn.train_reference(
      tiny_records, epochs=2, batch_size=8, learning_rate=2e-3,
      text_encoder='tiny', steps_per_epoch=3)
  assert len(result['history']['val_vqa_accuracy']) == 2
  assert 0.0 <= result['vqa_accuracy'] <= 1.0
  spec = input_pipeline.read_data_spec(tiny_records)
  batch = next(iter(input_pipeline.make_dataset(
      spec, 'val2014', 4, training=False)))[0]
  logits = logits_of(batch)
  assert logits.shape == (4, spec.num_answers)
  # Inverted pixels (the batch's questions may share one image).
  other_images = dict(batch, image=255 - batch['image'].numpy())
  assert not np.allclose(logits_of(other_images), logits)
