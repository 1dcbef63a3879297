"""An image checked before a model sees it: its size, its pixel count (read
from the header, before decoding) and its format. `vqa serve` checks uploads
with it and `vqa predict` image files, before TensorFlow is loaded."""
import dataclasses
import io

from trainer.contract import errors


# What tf.io.decode_image reads, so the SavedModel gets the bytes unchanged;
# other formats Pillow reads are re-encoded as PNG first.
DECODABLE_FORMATS = ('JPEG', 'PNG', 'GIF', 'BMP')


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


def mib(size):
  return f'{size / 2**20:g} MiB'


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
                       f'{mib(limits.max_upload_bytes)}')
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
