"""TFRecord framing and shard naming. Pure Python; no Beam.

Shared by the pipeline's shard writers and by plain-Python tools (the
benchmark's baselines) that must write exactly the same files.
"""
import struct
import zlib

import google_crc32c

_CRC_MASK_DELTA = 0xa282ead8
# What Beam's CompressionTypes.GZIP writes with (zlib's default level).
GZIP_LEVEL = 6


def _masked_crc32c(data):
  crc = google_crc32c.value(data)
  return (((crc >> 15) | (crc << 17)) + _CRC_MASK_DELTA) & 0xffffffff


def tfrecord_frame(record):
  """One record in TFRecord framing: length, its CRC, data, its CRC."""
  length = struct.pack('<Q', len(record))
  return (length + struct.pack('<I', _masked_crc32c(length)) + record +
          struct.pack('<I', _masked_crc32c(record)))


def shard_path(prefix, index, num_shards, suffix):
  return f'{prefix}-{index:05d}-of-{num_shards:05d}{suffix}'


def shard_index(key, num_shards):
  """A stable shard for an integer key (Python's hash of str is salted)."""
  return zlib.crc32(str(key).encode('utf-8')) % num_shards
