"""An uploaded image checked before a model sees it (size, pixels, format),
with Pillow alone: `vqa serve`, `vqa predict` and a LiteRT bundle, which
runs without TensorFlow, check images the same way."""
import dataclasses
import io

from trainer.contract import errors

# What tf.io.decode_image reads, so the SavedModel gets the bytes unchanged;
# other formats Pillow reads are re-encoded as PNG first.
DECODABLE_FORMATS = ('JPEG', 'PNG', 'GIF', 'BMP')
# The multipart envelope around the file (boundaries, the question field).
FORM_OVERHEAD_BYTES = 64 * 1024


class ImageRefused(errors.UserError):
  """An upload that is not served: `status` is the HTTP status to answer."""

  def __init__(self, status, message):
    super().__init__(message)
    self.status, self.message = status, message


@dataclasses.dataclass(frozen=True)
class CheckedImage:
  data: bytes  # what the models get
  format: str  # as uploaded
  width: int
  height: int

  def summary(self):
    return {'format': self.format, 'width': self.width,
            'height': self.height, 'bytes': len(self.data)}


def _mib(size):
  return f'{size / 2**20:g} MiB'


def body_refusal(content_length, limits):
  """ImageRefused for a POST body that cannot fit the limit, else None."""
  if content_length is None:
    return ImageRefused(411, 'the request has no Content-Length header')
  try:
    length = int(content_length)
  except ValueError:
    return ImageRefused(400, f'Content-Length {content_length!r} is not a '
                        'number')
  if length > limits.max_upload_bytes + FORM_OVERHEAD_BYTES:
    return ImageRefused(413, f'the upload is {_mib(length)}; the limit is '
                        f'{_mib(limits.max_upload_bytes)}')
  return None


def _open(data):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  try:
    return Image.open(io.BytesIO(data))
  except Image.DecompressionBombError as e:
    raise ImageRefused(413, f'the image has too many pixels ({e})') from e
  except (Image.UnidentifiedImageError, OSError) as e:
    raise ImageRefused(415, 'the file is not an image (JPEG, PNG, GIF, BMP '
                       'or another format Pillow reads)') from e


def _as_png(image):
  buffer = io.BytesIO()
  image.convert('RGB').save(buffer, format='PNG')
  return buffer.getvalue()


def checked_image(data, limits):
  """The upload as CheckedImage, or ImageRefused saying what is wrong.

  The pixel count is read from the header, before any decoding, so a small
  file that would decode to a huge image costs nothing.
  """
  if not data:
    raise ImageRefused(400, 'the uploaded file is empty')
  if len(data) > limits.max_upload_bytes:
    raise ImageRefused(413, f'the upload is larger than '
                       f'{_mib(limits.max_upload_bytes)}')
  image = _open(data)
  with image:
    width, height = image.size
    if width * height > limits.max_pixels:
      raise ImageRefused(413, f'the image is {width}x{height} = '
                         f'{width * height / 1e6:.1f} megapixels; the limit '
                         f'is {limits.max_pixels / 1e6:g}')
    try:
      image.load()
    except (OSError, SyntaxError, ValueError) as e:
      raise ImageRefused(415, f'the {image.format} image cannot be decoded '
                         f'({e})') from e
    image_format = image.format or 'unknown'
    if image_format not in DECODABLE_FORMATS:
      data = _as_png(image)
  return CheckedImage(data, image_format, width, height)
