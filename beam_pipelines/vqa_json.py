"""Reading and checking the official VQA question and annotation files.

A malformed file (not JSON, wrong top-level keys) fails fast with an
InputFileError naming the file; a malformed record inside a good file is
returned as a problem for the pipeline to count, never raised.
"""
import json

from apache_beam.io.filesystems import FileSystems

from beam_pipelines import accounting
from beam_pipelines import layout
from trainer import vqa_metric


class InputFileError(Exception):
  """An input file is missing or malformed as a whole."""


def load_records(path, list_key):
  """Reads `path` (local or gs://) and returns its `list_key` list.

  Raises:
    InputFileError: the file cannot be read, is not JSON, or has no list under
      `list_key`.
  """
  try:
    with FileSystems.open(path) as f:
      data = json.load(f)
  except json.JSONDecodeError as e:
    raise InputFileError(f'{path}: not valid JSON ({e})') from e
  except UnicodeDecodeError as e:
    raise InputFileError(f'{path}: not UTF-8 text ({e})') from e
  except (IOError, OSError) as e:
    raise InputFileError(f'{path}: cannot be read ({e})') from e
  if not isinstance(data, dict) or not isinstance(data.get(list_key), list):
    found = sorted(data) if isinstance(data, dict) else type(data).__name__
    raise InputFileError(
        f'{path}: expected a JSON object with a "{list_key}" list '
        f'(official VQA layout); found {found}')
  return data[list_key]


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
