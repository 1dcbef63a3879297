"""Decoding, resizing and re-encoding one image. Pure PIL; no Beam."""
import io
import warnings

from PIL import Image
from PIL import ImageOps
from PIL import UnidentifiedImageError

from beam_pipelines import accounting

JPEG_QUALITY = 90
# A little larger than the largest COCO image (640x640); well below what a
# decompression bomb would need to exhaust a worker's memory.
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000


class ImageRejected(Exception):
  """The image cannot be used; `reason` is one of accounting.IMAGE_REASONS."""

  def __init__(self, reason, detail=''):
    super().__init__(f'{reason}: {detail}' if detail else reason)
    self.reason = reason
    self.detail = detail


def _open(raw, max_pixels):
  if not raw:
    raise ImageRejected(accounting.EMPTY_IMAGE, 'file has 0 bytes')
  try:
    with warnings.catch_warnings():
      # PIL warns (and above 2x the limit raises) on huge images; we check the
      # size ourselves against our own limit, before any pixel is decoded.
      warnings.simplefilter('ignore', Image.DecompressionBombWarning)
      image = Image.open(io.BytesIO(raw))
  except Image.DecompressionBombError as e:
    raise ImageRejected(accounting.IMAGE_TOO_LARGE, str(e)) from e
  except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
    raise ImageRejected(accounting.UNREADABLE_IMAGE, str(e)) from e
  width, height = image.size
  if width * height > max_pixels:
    raise ImageRejected(accounting.IMAGE_TOO_LARGE,
                        f'{width}x{height} pixels > limit {max_pixels}')
  if width == 0 or height == 0:
    raise ImageRejected(accounting.UNREADABLE_IMAGE, f'size {width}x{height}')
  return image


def _to_rgb(image):
  if image.mode == 'RGB':
    return image
  if image.mode in ('RGBA', 'LA') or (image.mode == 'P' and
                                      'transparency' in image.info):
    rgba = image.convert('RGBA')
    background = Image.new('RGB', rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel('A'))
    return background
  if image.mode in ('I;16', 'I;16B', 'I;16L', 'I'):
    # 16/32-bit grey: scale to 8 bits instead of clipping at 255.
    image = image.point(lambda v: v / 256).convert('L')
  return image.convert('RGB')


def square_image(raw, image_size, max_pixels=DEFAULT_MAX_IMAGE_PIXELS):
  """Decodes any PIL-readable image and squares it to `image_size`.

  Args:
    raw: the file's bytes (JPEG, PNG, ... whatever the extension says).
    image_size: side of the square output, in pixels.
    max_pixels: images with more pixels are rejected before decoding.

  Returns:
    An RGB PIL image of size image_size x image_size.

  Raises:
    ImageRejected: empty, unreadable, truncated or too large.
  """
  image = _open(raw, max_pixels)
  try:
    # JPEG can decode at 1/2, 1/4 or 1/8 scale directly: much faster for
    # large photos and no loss since we downscale anyway.
    image.draft('RGB', (image_size, image_size))
    image = ImageOps.exif_transpose(image)
    image = _to_rgb(image)
    # Antialiased bilinear, as the serving signature's tf.image.resize
    # (trainer/serve/export.py; tests/test_resize_agreement.py compares them).
    return image.resize((image_size, image_size), Image.BILINEAR,
                        reducing_gap=3.0)
  except OSError as e:
    reason = (accounting.TRUNCATED_IMAGE if 'truncated' in str(e).lower()
              else accounting.UNREADABLE_IMAGE)
    raise ImageRejected(reason, str(e)) from e
  except (ValueError, SyntaxError) as e:
    raise ImageRejected(accounting.UNREADABLE_IMAGE, str(e)) from e


def encode_image(raw, image_size, max_pixels=DEFAULT_MAX_IMAGE_PIXELS):
  """square_image() re-encoded: RGB JPEG bytes, image_size x image_size."""
  out = io.BytesIO()
  square_image(raw, image_size, max_pixels).save(out, format='JPEG',
                                                 quality=JPEG_QUALITY)
  return out.getvalue()
