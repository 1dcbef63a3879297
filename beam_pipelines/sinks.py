"""A sharded file sink that writes each shard once, straight to its final name.

Beam's file sinks write temporary files and rename them at the end; on GCS that
rename goes through the batch API. Writing each shard directly, from one
worker, after a GroupByKey on the shard index, needs only plain object writes
(the same on GCS, local disk or an emulator), gives exactly `num_shards` files
(empty ones included) and keeps the shard of a record stable across runs. A
retried bundle rewrites the same shard from the same records.
"""
import json

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from beam_pipelines.shard_files import shard_index
from beam_pipelines.shard_files import shard_path
from beam_pipelines.shard_files import tfrecord_frame

__all__ = ['WriteShards', 'jsonl_line', 'shard_index', 'shard_path',
           'tfrecord_frame']


def jsonl_line(record):
  return (json.dumps(record, sort_keys=True) + '\n').encode('utf-8')


class _WriteShard(beam.DoFn):
  """Writes all the records of one shard to one file."""

  def __init__(self, prefix, num_shards, suffix, frame, compression):
    self._prefix = prefix
    self._num_shards = num_shards
    self._suffix = suffix
    self._frame = frame
    self._compression = compression

  def process(self, keyed_records):
    index, grouped = keyed_records
    path = shard_path(self._prefix, index, self._num_shards, self._suffix)
    count = 0
    with FileSystems.create(path, compression_type=self._compression) as f:
      for record in grouped['records']:
        f.write(self._frame(record))
        count += 1
    yield path, count


class WriteShards(beam.PTransform):
  """Writes (key, record) pairs to `num_shards` files `prefix-SSSSS-of-NNNNN`.

  Returns a PCollection of (path, number of records) per shard.
  """

  def __init__(self, prefix, num_shards, suffix, frame=tfrecord_frame,
               compression=CompressionTypes.GZIP):
    super().__init__()
    if num_shards < 1:
      raise ValueError(f'num_shards must be >= 1, got {num_shards}')
    self._prefix = prefix
    self._num_shards = num_shards
    self._suffix = suffix
    self._frame = frame
    self._compression = compression

  def expand(self, keyed_records):
    n = self._num_shards
    # Every shard index appears at least once, so empty shards are written too.
    all_indices = (
        keyed_records.pipeline
        | 'ListShards' >> beam.Create([(i, None) for i in range(n)]))
    by_shard = (
        keyed_records
        | 'AssignShard' >> beam.Map(lambda kv: (shard_index(kv[0], n), kv[1])))
    return (
        {'records': by_shard, 'shards': all_indices}
        | 'GroupByShard' >> beam.CoGroupByKey()
        | 'WriteShardFiles' >> beam.ParDo(
            _WriteShard(self._prefix, n, self._suffix, self._frame,
                        self._compression)))
