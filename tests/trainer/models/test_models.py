"""Teacher building blocks: the image augmentation and MobileNetV2 cuts."""
import numpy as np
import pytest
import tensorflow as tf

from trainer.models import multimodal


def _symmetries(image):
  """The 8 flips and right-angle rotations of a square HxWxC image."""
  rotations = [np.rot90(image, k) for k in range(4)]
  return rotations + [np.fliplr(rotation) for rotation in rotations]


def test_random_dihedral_draws_every_symmetry_and_nothing_else():
  tf.random.set_seed(0)
  image = np.arange(3 * 3 * 2, dtype=np.float32).reshape(3, 3, 2)
  batch = np.repeat(image[np.newaxis], 400, axis=0)
  augmented = multimodal.RandomDihedral()(batch, training=True).numpy()
  symmetries = _symmetries(image)
  drawn = [next(i for i, s in enumerate(symmetries) if np.array_equal(a, s))
           for a in augmented]  # StopIteration: not a symmetry of the image
  counts = np.bincount(drawn, minlength=8)
  assert counts.min() > 20, counts  # ~50 each when uniform


def test_random_dihedral_is_the_identity_at_inference():
  batch = np.random.default_rng(0).random((4, 5, 5, 3)).astype(np.float32)
  for training in (False, None):
    np.testing.assert_array_equal(
        multimodal.RandomDihedral()(batch, training=training).numpy(), batch)


@pytest.mark.parametrize('kind, layer_type', [
    ('none', type(None)), ('flip', tf.keras.layers.RandomFlip),
    ('flip-rotate', multimodal.RandomDihedral)])
def test_image_augmentation_by_name(kind, layer_type):
  assert isinstance(multimodal.image_augmentation(kind), layer_type)


def test_unknown_augmentation_and_legacy_flag():
  with pytest.raises(ValueError, match='image augmentation'):
    multimodal.ModelConfig(image_augment='rotate').check()
  assert multimodal.ModelConfig(image_augment=True).image_augment == 'flip'
  assert multimodal.ModelConfig(image_augment=False).image_augment == 'none'


@pytest.mark.parametrize('stride, side', [(4, 8), (8, 4), (32, 1)])
def test_mobilenet_is_cut_at_the_requested_stride(stride, side):
  config = multimodal.ModelConfig(image_weights='none', image_alpha=0.35,
                              image_size=32, image_feature_stride=stride)
  network = multimodal.mobilenet_v2_features(config)
  if stride != 32:
    cut = network.get_layer(multimodal.MOBILENET_STRIDE_LAYERS[stride])
    assert cut.output_shape[1:3] == (side, side)
  assert len(network.output_shape) == 2  # globally pooled
