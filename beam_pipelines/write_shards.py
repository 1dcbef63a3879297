"""Writing the Example shards: each image read and encoded once, by the step
that writes its shard."""
import dataclasses
import sys
import time

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.metrics import Metrics

from beam_pipelines import accounting
from beam_pipelines import images
from beam_pipelines import layout
from beam_pipelines import outcome_tags
from beam_pipelines import shard_files
from trainer.contract import record_spec


class _Progress:
  """Prints how far this worker has got, at most once per `every_s` seconds."""

  def __init__(self, what, every_s=10.0):
    self._what = what
    self._every_s = every_s
    self._count = 0
    self._start = self._last = time.monotonic()

  def tick(self):
    self._count += 1
    now = time.monotonic()
    if now - self._last >= self._every_s:
      self._last = now
      rate = self._count / (now - self._start)
      print(f'[preprocess] {self._what}: {self._count} on this worker '
            f'({rate:.0f}/s)', file=sys.stderr, flush=True)


@dataclasses.dataclass(frozen=True)
class ImageSource:
  """Where a split's images are, and the size and limit they are encoded to."""
  split: str
  image_dir: str
  image_pattern: str
  image_size: int
  max_pixels: int

  def path(self, image_id):
    return layout.join_path(
        self.image_dir,
        layout.image_filename(self.split, image_id, self.image_pattern))


def _read_file(path):
  """The file's bytes, or None when it does not exist."""
  # Imported here: FileSystems pulls in every registered file system.
  from apache_beam.io.filesystems import FileSystems  # pylint: disable=g-import-not-at-top
  try:
    with FileSystems.open(path, compression_type='uncompressed') as f:
      return f.read()
  except Exception:  # pylint: disable=broad-except
    if not FileSystems.exists(path):
      return None
    raise  # Transient or permission errors: let the runner retry or fail.


def encode_image_file(source, image_id):
  """Reads and encodes one image: (jpeg, None) or (None, ImageRejected)."""
  path = source.path(image_id)
  raw = _read_file(path)
  try:
    if raw is None:
      raise images.ImageRejected(accounting.MISSING_IMAGE, path)
    return images.encode_image(raw, source.image_size, source.max_pixels), None
  except images.ImageRejected as e:
    return None, images.ImageRejected(e.reason, f'{path}: {e.detail}')


def group_by_image(records):
  """[(image_id, records sorted by question_id)], by image id.

  The order makes a shard's bytes the same on every run (a retried bundle
  rewrites the same file), and puts an image's records next to each other so
  that gzip stores the repeated JPEG about once.
  """
  by_image = {}
  for record in records:
    by_image.setdefault(record['image_id'], []).append(record)
  return [(image_id, sorted(group, key=lambda r: r['question_id']))
          for image_id, group in sorted(by_image.items())]


class _FrameCounter:
  """A shard file that counts the TFRecord frames written to it."""

  def __init__(self, file):
    self._file = file
    self.frames = 0

  def write(self, frame):
    self._file.write(frame)
    self.frames += 1


class _EncodeAndWriteShard(beam.DoFn):
  """Writes one shard: encodes each of its images once, then its Examples."""

  def __init__(self, source, prefix, num_shards, max_question_tokens):
    self._source = source
    self._prefix = prefix
    self._num_shards = num_shards
    self._max_question_tokens = max_question_tokens
    self._images_read = Metrics.counter(outcome_tags.METRICS_NAMESPACE,
                                        'images_read')
    self._image_bytes = Metrics.distribution(outcome_tags.METRICS_NAMESPACE,
                                             'encoded_image_bytes')
    self._progress = None

  def setup(self):
    self._progress = _Progress(f'{self._source.split} images encoded')

  def _image_outcomes(self, image_id, records, file, num_answers):
    """Encodes one image, writes its records; yields what happened."""
    split = self._source.split
    yield outcome_tags.event(split, accounting.IMAGES_REFERENCED)
    yield outcome_tags.event(split, accounting.IMAGES_READ)
    self._images_read.inc()
    self._progress.tick()
    jpeg, problem = encode_image_file(self._source, image_id)
    if problem:
      yield outcome_tags.event(
          split, f'{accounting.IMAGES_REJECTED}/{problem.reason}')
      for record in records:
        yield from outcome_tags.reject(split, record['question_id'], image_id,
                                       problem.reason, problem.detail)
      return
    self._image_bytes.update(len(jpeg))
    for record in records:
      file.write(shard_files.tfrecord_frame(record_spec.make_joined_example(
          record, jpeg, self._max_question_tokens, num_answers)))
      yield outcome_tags.outcome(split, accounting.WRITTEN)

  def process(self, keyed_records, vocabulary):
    # Imported here: FileSystems pulls in every registered file system.
    from apache_beam.io.filesystems import FileSystems  # pylint: disable=g-import-not-at-top
    index, grouped = keyed_records
    path = shard_files.shard_path(self._prefix, index, self._num_shards,
                                  record_spec.SHARD_SUFFIX)
    num_answers = len(vocabulary['answers'])
    outcome_tags.received(self._source.split, accounting.TOKENIZED_EDGE,
                          len(grouped['records']))
    groups = group_by_image(grouped['records'])
    with FileSystems.create(path, compression_type=CompressionTypes.GZIP) as f:
      shard = _FrameCounter(f)
      for image_id, records in groups:
        yield from self._image_outcomes(image_id, records, shard, num_answers)
    # The writer's own count of frames, reconciled with the WRITTEN outcomes.
    yield path, shard.frames


class WriteExampleShards(beam.PTransform):
  """Writes labelled, tokenised records as Examples into `num_shards` files.

  Records are grouped by the shard of their image (sinks.shard_index of the
  image id), and the step that writes a shard reads, decodes and encodes each
  of its images once. So only question metadata crosses the shuffle, never
  image bytes, and no image is decoded twice. The price: the writing step runs
  at most `num_shards` bundles at a time, so give at least as many shards as
  worker cores (on Dataflow, all workers' cores). Returns the (path, records
  written) of each shard, with tagged OUTCOMES and REJECTED.
  """

  def __init__(self, source, prefix, num_shards, max_question_tokens,
               vocabulary):
    super().__init__()
    if num_shards < 1:
      raise ValueError(f'num_shards must be >= 1, got {num_shards}')
    self._writer = _EncodeAndWriteShard(source, prefix, num_shards,
                                        max_question_tokens)
    self._num_shards = num_shards
    self._vocabulary = vocabulary

  def expand(self, records):
    n = self._num_shards
    # Every shard index appears at least once, so empty shards are written too.
    all_indices = (records.pipeline
                   | 'ListShards' >> beam.Create([(i, None) for i in range(n)]))
    by_shard = records | 'KeyByShard' >> beam.Map(
        lambda record: (shard_files.shard_index(record['image_id'], n), record))
    return (
        {'records': by_shard, 'shards': all_indices}
        | 'GroupByShard' >> beam.CoGroupByKey()
        | 'EncodeAndWrite' >> beam.ParDo(
            self._writer, vocabulary=beam.pvalue.AsSingleton(self._vocabulary)
        ).with_outputs(outcome_tags.OUTCOMES, outcome_tags.REJECTED,
                       main='shards'))
