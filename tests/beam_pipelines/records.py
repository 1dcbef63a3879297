"""Reading written shards back with the trainer's parser, for assertions."""
import tensorflow as tf

from trainer.contract import record_spec


def parse_shards(files, max_question_tokens, num_answers):
  """{question id: {feature name: numpy value}} of gzip TFRecord `files`."""
  dataset = tf.data.TFRecordDataset(files, compression_type='GZIP').map(
      lambda r: record_spec.parse_examples(r, max_question_tokens, num_answers))
  records = {}
  for example in dataset:
    values = {k: v.numpy() for k, v in example.items()}
    records[int(values[record_spec.QUESTION_ID])] = values
  return records
