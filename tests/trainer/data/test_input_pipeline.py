"""The tf.data input: shapes, global batches, order, filtering."""
import numpy as np

from tests.trainer.conftest import IMAGE_SIZE
from trainer.data import input_pipeline


def test_keras_batches_have_the_model_inputs_and_packed_targets(tiny_records):
  spec = input_pipeline.read_data_spec(tiny_records)
  inputs, packed = next(iter(input_pipeline.make_dataset(
      spec, 'train2014', 8, training=True, seed=3)))
  assert inputs['input_ids'].shape == (8, 16)
  assert inputs['attention_mask'].shape == (8, 16)
  assert inputs['image'].shape == (8, IMAGE_SIZE, IMAGE_SIZE, 3)
  assert inputs['image'].dtype.name == 'uint8'
  assert packed.shape == (8, spec.num_answers + 1)


def test_deterministic_evaluation_order_covers_every_record(tiny_records):
  spec = input_pipeline.read_data_spec(tiny_records)
  ids = lambda: np.concatenate([
      batch['question_id'].numpy() for batch in input_pipeline.make_dataset(
          spec, 'val2014', 7, training=False, deterministic=True,
          for_keras=False)])
  first, second = ids(), ids()
  assert first.tolist() == second.tolist()
  assert len(first) == len(set(first)) == input_pipeline.count_examples(
      spec, 'val2014')


def test_training_drops_unlabelled_and_repeats(tiny_records):
  spec = input_pipeline.read_data_spec(tiny_records)
  dataset = input_pipeline.make_dataset(
      spec, 'val2014', 10, training=True, for_keras=False,
      drop_labelless=True, decode_images=False)
  batches = list(dataset.take(40))
  labels = np.concatenate([b['label'].numpy() for b in batches])
  assert len(labels) == 400  # more than the split: it repeats
  assert (labels >= 0).all()
  assert 'image' not in batches[0]
