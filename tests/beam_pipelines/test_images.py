"""Decoding any image mode to an RGB JPEG of the right size, or a reason."""
import io

from PIL import Image
import pytest

from beam_pipelines import accounting
from beam_pipelines import images
from tests.beam_pipelines import image_files


def decode(jpeg):
  image = Image.open(io.BytesIO(jpeg))
  assert image.format == 'JPEG'
  return image


@pytest.mark.parametrize('make', [
    image_files.rgb_jpeg, image_files.grayscale_jpeg, image_files.cmyk_jpeg,
    image_files.rgba_png, image_files.palette_png])
def test_any_mode_becomes_a_square_rgb_jpeg(make):
  image = decode(images.encode_image(make(), 32))
  assert image.mode == 'RGB'
  assert image.size == (32, 32)


def test_colour_survives_resizing():
  image = decode(images.encode_image(image_files.rgb_jpeg(color=(200, 30, 30)),
                                     16))
  r, g, b = image.getpixel((8, 8))
  assert r > 150 and g < 80 and b < 80


def test_cmyk_is_converted_not_reinterpreted():
  # CMYK (0, 255, 255, 0) is red.
  r, g, b = decode(images.encode_image(image_files.cmyk_jpeg(), 16)).getpixel(
      (8, 8))
  assert r > 150 and g < 80 and b < 80


@pytest.mark.parametrize('raw, reason', [
    (b'', accounting.EMPTY_IMAGE),
    (image_files.unreadable(), accounting.UNREADABLE_IMAGE),
    (image_files.truncated_jpeg(), accounting.TRUNCATED_IMAGE),
    (image_files.decompression_bomb_png(), accounting.IMAGE_TOO_LARGE),
])
def test_bad_images_are_rejected_with_their_reason(raw, reason):
  with pytest.raises(images.ImageRejected) as caught:
    images.encode_image(raw, 32)
  assert caught.value.reason == reason


def test_pixel_limit_is_configurable():
  raw = image_files.rgb_jpeg(size=(100, 100))
  with pytest.raises(images.ImageRejected) as caught:
    images.encode_image(raw, 32, max_pixels=9_999)
  assert caught.value.reason == accounting.IMAGE_TOO_LARGE
  assert images.encode_image(raw, 32, max_pixels=10_000)
