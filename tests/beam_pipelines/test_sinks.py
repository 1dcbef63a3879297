"""The shard writer: TFRecord framing TensorFlow can read, every shard present."""
import glob
import json
import os

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.testing.test_pipeline import TestPipeline
import tensorflow as tf

from beam_pipelines import sinks


def test_framing_is_read_back_by_tensorflow(tmp_path):
  path = str(tmp_path / 'records.tfrecord')
  records = [b'', b'a', b'hello world' * 100]
  with open(path, 'wb') as f:
    for record in records:
      f.write(sinks.tfrecord_frame(record))
  assert [r.numpy() for r in tf.data.TFRecordDataset(path)] == records


def test_write_shards_writes_every_shard_gzip_and_each_record_once(tmp_path):
  prefix = str(tmp_path / 'out' / 'part')
  records = [(i, f'record {i}'.encode()) for i in range(20)]
  with TestPipeline() as p:
    _ = (p | beam.Create(records)
         | sinks.WriteShards(prefix, 5, '.tfrecord.gz'))
  paths = sorted(glob.glob(prefix + '-*'))
  assert [os.path.basename(p) for p in paths] == [
      f'part-{i:05d}-of-00005.tfrecord.gz' for i in range(5)]
  read = [r.numpy() for r in tf.data.TFRecordDataset(
      paths, compression_type='GZIP')]
  assert sorted(read) == sorted(value for _, value in records)


def test_empty_input_still_writes_the_shards(tmp_path):
  prefix = str(tmp_path / 'rejected')
  with TestPipeline() as p:
    _ = (p | beam.Create([]).with_output_types(tuple)
         | sinks.WriteShards(prefix, 1, '.jsonl', frame=sinks.jsonl_line,
                             compression=CompressionTypes.UNCOMPRESSED))
  path = prefix + '-00000-of-00001.jsonl'
  assert os.path.exists(path) and os.path.getsize(path) == 0


def test_jsonl_lines_round_trip():
  line = sinks.jsonl_line({'question_id': 3, 'reason': 'missing_image'})
  assert json.loads(line) == {'question_id': 3, 'reason': 'missing_image'}
  assert line.endswith(b'\n')


def test_shard_index_is_stable_and_in_range():
  assert [sinks.shard_index(k, 7) for k in range(50)] == [
      sinks.shard_index(k, 7) for k in range(50)]
  assert {sinks.shard_index(k, 7) for k in range(500)} == set(range(7))
