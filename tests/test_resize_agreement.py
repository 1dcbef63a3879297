"""The records' images (PIL in Beam) and the served ones (tf.image in the
SavedModel) are resized alike, so the model sees the same pixels in training
and in serving.

Measured on these images (mean absolute difference, grey levels of 255):
Beam's JPEG re-encoding alone moves pixels by 3.8-7.3, and training and
serving pixels differ by 3.7-7.5; the two resizes differ by 1.0-2.3 (PIL
decodes JPEGs at a reduced DCT scale first); a serving resize without
antialiasing would differ from Beam's by 3.4-7.8 (5.7-13.1 after re-encoding).
"""
import io

import numpy as np
from PIL import Image
from PIL import ImageDraw
import pytest
import tensorflow as tf

from beam_pipelines import images
from trainer.data import input_pipeline
from trainer.serve import export
from trainer.serve import litert_bundle

# The resizes may differ by this much beyond what Beam's JPEG re-encoding
# (quality 90) moves: one grey level, well under any visible change.
BEYOND_JPEG_NOISE = 1.0
# The resizes themselves (before Beam's re-encoding): max measured 2.3; a
# resize without antialiasing is above 3.4 on every case here.
RESIZE_TOLERANCE = 3.0


def photo_like_jpeg(width, height, seed=0):
  """Smooth gradients with sensor-like noise, sharp shapes and fine stripes
  (where a resize without antialiasing aliases), as a quality-95 JPEG."""
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[0:height, 0:width].astype(np.float32)
  pixels = np.stack([255 * x / width, 255 * y / height,
                     127 + 100 * np.sin(x / 17) * np.cos(y / 23)], axis=-1)
  pixels += rng.normal(0, 6, pixels.shape)
  image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
  draw = ImageDraw.Draw(image)
  for i in range(25):
    x0, y0 = rng.integers(0, width - 40), rng.integers(0, height - 40)
    w, h = rng.integers(10, 120, size=2)
    color = tuple(int(c) for c in rng.integers(0, 256, size=3))
    shape = draw.rectangle if i % 2 else draw.ellipse
    shape([x0, y0, x0 + w, y0 + h], fill=color)
  for column in range(0, width, 9):
    draw.line([column, 0, column, height // 6],
              fill=(0, 0, 0) if column % 2 else (255, 255, 255))
  out = io.BytesIO()
  image.save(out, format='JPEG', quality=95)
  return out.getvalue()


def mean_abs_difference(a, b):
  return float(np.mean(np.abs(a.astype(np.float32) - b.astype(np.float32))))


def served_pixels(raw, size, antialias=True):
  if antialias:
    return export.square_image(tf.constant(raw), size).numpy()
  image = tf.io.decode_image(raw, channels=3, expand_animations=False)
  image = tf.image.resize(image, [size, size], antialias=False)
  return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8).numpy()


CASES = [(640, 480, 224), (427, 640, 224), (500, 500, 224),
         (640, 480, 64), (427, 640, 64)]


@pytest.fixture(scope='module', params=CASES,
                ids=lambda c: '{}x{}->{}'.format(*c))
def case(request):
  width, height, size = request.param
  raw = photo_like_jpeg(width, height)
  return {
      'size': size,
      'raw': raw,
      'beam': np.asarray(images.square_image(raw, size)),
      # What training reads: the record's JPEG, decoded (input_pipeline).
      'records': input_pipeline.decode_jpeg(
          images.encode_image(raw, size)).numpy(),
      'served': served_pixels(raw, size),
  }


def test_training_and_serving_pixels_differ_by_jpeg_noise_only(case):
  assert case['records'].shape == case['served'].shape == (
      case['size'], case['size'], 3)
  jpeg_noise = mean_abs_difference(case['records'], case['beam'])
  between = mean_abs_difference(case['records'], case['served'])
  assert between <= jpeg_noise + BEYOND_JPEG_NOISE, (
      f'training and serving pixels differ by {between:.2f} grey levels; '
      f"Beam's JPEG re-encoding alone by {jpeg_noise:.2f}")


def test_the_two_resizes_agree(case):
  difference = mean_abs_difference(case['beam'], case['served'])
  assert difference <= RESIZE_TOLERANCE, (
      f'PIL (Beam) and tf.image (serving) resizes differ by {difference:.2f} '
      'grey levels')


def test_the_tolerance_catches_a_resize_without_antialiasing(case):
  aliased = served_pixels(case['raw'], case['size'], antialias=False)
  assert mean_abs_difference(case['beam'], aliased) > RESIZE_TOLERANCE


def test_a_record_s_jpeg_reads_the_same_in_training_savedmodel_and_bundle(
    case):
  """The records' JPEG (already square, at the model's size): the training
  pipeline, the SavedModel's decoder and the LiteRT bundle's Pillow decoder
  give identical pixels, so the bundle answers as the SavedModel does."""
  record = images.encode_image(case['raw'], case['size'])
  pillow = litert_bundle.square_pixels(record, case['size'])
  np.testing.assert_array_equal(case['records'], pillow)
  np.testing.assert_array_equal(
      export.square_image(tf.constant(record), case['size']).numpy(), pillow)


def test_tensorflow_s_default_jpeg_decoder_would_differ(case):
  """What the test above guards against: TensorFlow's default DCT."""
  record = images.encode_image(case['raw'], case['size'])
  fast = tf.io.decode_jpeg(record, channels=3).numpy()
  assert np.abs(fast.astype(int) - case['records'].astype(int)).max() > 0
