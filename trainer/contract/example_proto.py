"""tf.train.Example wire format, written in pure Python.

Building an Example through TensorFlow means importing TensorFlow (several
seconds and hundreds of MB) in every Beam worker only to serialise a few
lists. The format is small and stable (tensorflow/core/example/example.proto
and feature.proto), so it is encoded here directly; the tests parse the
output with TensorFlow and compare it with tf.train.Example's own bytes.

  Example  { Features features = 1; }
  Features { map<string, Feature> feature = 1; }   // entry: key = 1, value = 2
  Feature  { oneof { BytesList bytes_list = 1; FloatList float_list = 2;
                     Int64List int64_list = 3; } }
  BytesList { repeated bytes value = 1; }
  FloatList { repeated float value = 1 [packed]; }
  Int64List { repeated int64 value = 1 [packed]; }
"""
import struct

_LENGTH_DELIMITED = 2
_BYTES_LIST, _FLOAT_LIST, _INT64_LIST = 1, 2, 3


def _varint(value):
  """Base-128 varint; negative int64 values take ten bytes, as in protobuf."""
  value &= (1 << 64) - 1
  out = bytearray()
  while True:
    byte = value & 0x7f
    value >>= 7
    if value:
      out.append(byte | 0x80)
    else:
      out.append(byte)
      return bytes(out)


def _field(number, payload):
  """A length-delimited field: tag, length, payload."""
  return (_varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) +
          payload)


def bytes_feature(values):
  return _field(_BYTES_LIST, b''.join(_field(1, v) for v in values))


def float_feature(values):
  packed = struct.pack(f'<{len(values)}f', *values)
  return _field(_FLOAT_LIST, _field(1, packed) if values else b'')


def int64_feature(values):
  packed = b''.join(_varint(int(v)) for v in values)
  return _field(_INT64_LIST, _field(1, packed) if values else b'')


def serialize_example(features):
  """Serialises {name: encoded Feature} (from the *_feature functions)."""
  entries = b''.join(
      _field(1, _field(1, name.encode('utf-8')) + _field(2, feature))
      for name, feature in sorted(features.items()))
  return _field(1, entries)
