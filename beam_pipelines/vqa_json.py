"""Reading and checking the official VQA question and annotation files.

A malformed file (not JSON, wrong top-level keys) fails fast with an
InputFileError naming the file; a malformed record inside a good file is
returned as a problem for the pipeline to count, never raised.
"""
import codecs
import json
import re

from beam_pipelines import accounting
from beam_pipelines import layout
from trainer.contract import errors
from trainer.contract import vqa_metric

# Bytes read at a time; a value longer than the window doubles it.
_CHUNK_BYTES = 1 << 20
_WHITESPACE = re.compile(r'[ \t\n\r]*')


class InputFileError(errors.UserError):
  """An input file is missing or malformed as a whole."""


class _Malformed(Exception):
  """Not JSON, or not the layout expected; the message says where."""


class _JsonScanner:
  """Reads one JSON value at a time from a UTF-8 byte stream.

  Holds only a window of the text (about the largest value read so far), so a
  file of any size streams through in bounded memory.
  """

  def __init__(self, stream):
    self._stream = stream
    self._utf8 = codecs.getincrementaldecoder('utf-8-sig')()
    self._decoder = json.JSONDecoder()
    self._text = ''
    self._pos = 0
    self._dropped = 0  # Characters discarded before the window.
    self._eof = False

  def _fill(self):
    """Appends more text to the window; False at the end of the file."""
    if self._eof:
      return False
    size = max(_CHUNK_BYTES, len(self._text) - self._pos)
    raw = self._stream.read(size)
    self._eof = not raw
    self._dropped += self._pos
    self._text = self._text[self._pos:] + self._utf8.decode(raw, final=not raw)
    self._pos = 0
    return True

  def offset(self):
    return self._dropped + self._pos

  def peek(self):
    """The next character that is not white space ('' at the end)."""
    while True:
      self._pos = _WHITESPACE.match(self._text, self._pos).end()
      if self._pos < len(self._text):
        return self._text[self._pos]
      if not self._fill():
        return ''

  def expect(self, allowed):
    """Consumes the next character, which must be one of `allowed`."""
    char = self.peek()
    if not char or char not in allowed:
      found = repr(char) if char else 'the end of the file'
      raise _Malformed(f'expected one of {allowed!r} at character '
                       f'{self.offset()}, found {found}')
    self._pos += 1
    return char

  def value(self):
    """Decodes the next complete JSON value."""
    self.peek()
    while True:
      try:
        value, end = self._decoder.raw_decode(self._text, self._pos)
      except json.JSONDecodeError as e:
        if self._fill():
          continue
        raise _Malformed(f'{e.msg} at character {self._dropped + e.pos}') from e
      # A number at the window's edge may go on in the next chunk.
      if end == len(self._text) and self._fill():
        continue
      self._pos = end
      return value


def _list_items(scanner):
  scanner.expect('[')
  if scanner.peek() == ']':
    scanner.expect(']')
    return
  while True:
    yield scanner.value()
    if scanner.expect(',]') == ']':
      return


def _records_under(scanner, path, list_key):
  """Yields the items of the top-level object's `list_key` list."""
  expected = (f'{path}: expected a JSON object with a "{list_key}" list '
              '(official VQA layout); found')
  if scanner.peek() != '{':
    raise InputFileError(f'{expected} {type(scanner.value()).__name__}')
  scanner.expect('{')
  keys, found = [], False
  while scanner.peek() != '}' or keys:
    key = scanner.value()
    if not isinstance(key, str):
      raise _Malformed(f'an object key must be a string, found {key!r}')
    scanner.expect(':')
    if key == list_key and scanner.peek() == '[':
      if found:
        raise InputFileError(f'{path}: "{list_key}" appears twice')
      found = True
      yield from _list_items(scanner)
    else:
      scanner.value()
    keys.append(key)
    if scanner.expect(',}') == '}':
      break
  else:
    scanner.expect('}')
  if scanner.peek():
    raise _Malformed(f'extra data at character {scanner.offset()}')
  if not found:
    raise InputFileError(f'{expected} {sorted(keys)}')


def iter_records(path, list_key):
  """Streams the `list_key` list of `path` (local or gs://), item by item.

  The official annotation files hold hundreds of MB of JSON; parsed whole, a
  worker would hold several GB of Python objects. Here only one record (and a
  window of text) is held at a time.

  Raises:
    InputFileError: the file cannot be read, is not JSON, or has no list under
      `list_key` (raised when the problem is reached: records before it have
      already been yielded).
  """
  # Imported here: FileSystems pulls in Beam and every registered file system.
  from apache_beam.io.filesystems import FileSystems  # pylint: disable=g-import-not-at-top
  try:
    with FileSystems.open(path) as f:
      yield from _records_under(_JsonScanner(f), path, list_key)
  except _Malformed as e:
    raise InputFileError(f'{path}: not valid JSON ({e})') from e
  except UnicodeDecodeError as e:
    raise InputFileError(f'{path}: not UTF-8 text ({e})') from e
  except (IOError, OSError) as e:
    raise InputFileError(f'{path}: cannot be read ({e})') from e


def _is_int(value):
  return isinstance(value, int) and not isinstance(value, bool)


def check_question(record):
  """Returns None if the question record is usable, else a rejection reason."""
  if not isinstance(record, dict):
    return accounting.MALFORMED_QUESTION
  if not (_is_int(record.get('question_id')) and _is_int(record.get('image_id'))
          and isinstance(record.get('question'), str)):
    return accounting.MALFORMED_QUESTION
  if not record['question'].strip():
    return accounting.EMPTY_QUESTION
  return None


def check_annotation(record):
  """True if the annotation has the fields the pipeline uses, well typed."""
  if not isinstance(record, dict) or not _is_int(record.get('question_id')):
    return False
  answers = record.get('answers')
  if not isinstance(answers, list) or not answers:
    return False
  return all(isinstance(a, dict) and isinstance(a.get('answer'), str)
             for a in answers)


_ANNOTATION_FIELDS_USED = ('question_id', 'image_id', 'question_type',
                           'answer_type')


def slim_annotation(record):
  """A checked annotation with only the fields the pipeline reads.

  Drops the answer ids and confidences and `multiple_choice_answer`: on
  VQA-shaped records 1.8x fewer pickled bytes for every later step to hold
  and shuffle.
  """
  slim = {key: record[key] for key in _ANNOTATION_FIELDS_USED if key in record}
  slim['answers'] = [{'answer': a['answer']} for a in record['answers']]
  return slim


def normalized_human_answers(annotation):
  """The human answers of an annotation, normalised, at most ten."""
  return [vqa_metric.normalize_answer(a['answer'])
          for a in annotation['answers']][:vqa_metric.NUM_HUMAN_ANSWERS]


def answer_type(annotation):
  value = annotation.get('answer_type', '')
  return value if value in layout.ANSWER_TYPES else ''


def question_type(annotation):
  value = annotation.get('question_type', '')
  return value if isinstance(value, str) else ''
