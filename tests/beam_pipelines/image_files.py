"""Image bytes for tests: good images in several modes and broken ones."""
import io

from PIL import Image


def encoded(image, fmt='JPEG'):
  out = io.BytesIO()
  image.save(out, format=fmt)
  return out.getvalue()


def rgb_jpeg(size=(80, 60), color=(200, 30, 30)):
  return encoded(Image.new('RGB', size, color))


def grayscale_jpeg():
  return encoded(Image.new('L', (50, 70), 128))


def cmyk_jpeg():
  return encoded(Image.new('CMYK', (64, 48), (0, 255, 255, 0)))


def rgba_png():
  return encoded(Image.new('RGBA', (40, 40), (0, 0, 255, 128)), 'PNG')


def palette_png():
  return encoded(Image.new('P', (40, 40), 3), 'PNG')


def truncated_jpeg():
  # Noise does not compress, so half the file is missing real scan data.
  data = encoded(Image.effect_noise((128, 128), 64).convert('RGB'))
  return data[:len(data) // 2]


def unreadable():
  return b'this is not an image at all'


def decompression_bomb_png():
  """A few KB on disk, 64 million pixels once decoded."""
  return encoded(Image.new('1', (8000, 8000)), 'PNG')
