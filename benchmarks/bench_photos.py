"""Photo-like benchmark data: sample_data's questions and annotations with
JPEGs that cost what photographs cost to decode (preprocess_bench.py)."""
import io
import json
import multiprocessing
import os
import shutil

PHOTO_QUALITY = 90


def photo_like_jpeg(rng, width, height):
  """A JPEG that costs about what a photo costs to decode: smooth colour
  regions, mid-scale structure and fine noise (no flat areas)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top

  def upsampled(cells_y, cells_x):
    low = rng.integers(0, 256, (cells_y, cells_x, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(low).resize((width, height),
                                                  Image.BICUBIC), np.float32)

  pixels = upsampled(4, 5) + 0.4 * (upsampled(24, 32) - 128)
  pixels += rng.normal(0, 10, (height, width, 1)).astype(np.float32)
  image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
  out = io.BytesIO()
  image.save(out, format='JPEG', quality=PHOTO_QUALITY)
  return out.getvalue()


def _write_photos(task):
  import numpy as np  # pylint: disable=g-import-not-at-top
  paths, width, height, seed = task
  rng = np.random.default_rng(seed)
  for path in paths:
    with open(path, 'wb') as f:
      f.write(photo_like_jpeg(rng, width, height))


def generate_data(data_dir, args, split):
  """Questions and annotations from sample_data, photos in place of its
  drawings; reuses `data_dir` when it was made with the same settings."""
  settings = {key: getattr(args, key) for key in (
      'images', 'questions_per_image', 'source_width', 'source_height',
      'seed')}
  stamp = os.path.join(data_dir, 'bench-data.json')
  if os.path.exists(stamp):
    with open(stamp, encoding='utf-8') as f:
      saved = json.load(f)
    if saved['settings'] == settings:
      return saved['summary']
  shutil.rmtree(data_dir, ignore_errors=True)
  from beam_pipelines import sample_data  # pylint: disable=g-import-not-at-top
  config = sample_data.SampleDataConfig(
      images_per_split=args.images, image_size=sample_data.MIN_IMAGE_SIZE,
      questions_per_image=args.questions_per_image, splits=(split,),
      seed=args.seed)
  summary = sample_data.generate(data_dir, config)[split]
  image_dir = os.path.join(data_dir, split)
  paths = sorted(os.path.join(image_dir, name) for name in os.listdir(image_dir))
  workers = os.cpu_count()
  tasks = [(paths[i::workers], args.source_width, args.source_height,
            args.seed * 1000 + i) for i in range(workers)]
  with multiprocessing.get_context('fork').Pool(workers) as pool:
    pool.map(_write_photos, tasks)
  summary = {'images': summary['images'], 'questions': summary['questions'],
             'photo_bytes': sum(os.path.getsize(p) for p in paths)}
  with open(stamp, 'w', encoding='utf-8') as f:
    json.dump({'settings': settings, 'summary': summary}, f)
  return summary
