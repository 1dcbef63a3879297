"""The official VQA results file, checked as the official evaluator loads it.

  [{"question_id": int, "answer": str}, ...]

The official API's `VQA.loadRes` (and EvalAI, for test-dev and test-std)
accepts a file only when its question ids are exactly those of the split: one
answer for every question, nothing extra. `write_results` refuses to write any
other file, so a file that leaves here can be scored or submitted as is.
"""
import json

import tensorflow as tf

from trainer.contract import errors
from trainer.models import model_io

_EXAMPLES = 5  # ids quoted in an error message


class ResultsFileError(errors.UserError):
  """A results file the official evaluator would refuse."""


def official_results(answers):
  """[{"question_id", "answer"}] from {question_id: answer}, in its order."""
  return [{'question_id': question_id, 'answer': answer}
          for question_id, answer in answers.items()]


def _is_int(value):
  return isinstance(value, int) and not isinstance(value, bool)


def _quote(ids):
  ids = sorted(ids)
  more = f', ... ({len(ids)} in all)' if len(ids) > _EXAMPLES else ''
  return ', '.join(str(i) for i in ids[:_EXAMPLES]) + more


def _entry_problems(results):
  """Entries that are not {"question_id": int, "answer": str}."""
  problems = []
  for position, entry in enumerate(results):
    if not isinstance(entry, dict):
      problems.append(f'entry {position} is not an object')
    elif not _is_int(entry.get('question_id')):
      problems.append(f'entry {position} has no integer "question_id"')
    elif not isinstance(entry.get('answer'), str):
      problems.append(f'question {entry["question_id"]}: "answer" is not a '
                      'string')
    if len(problems) >= _EXAMPLES:
      break
  return problems


def _id_problems(ids, question_ids):
  """Duplicate, missing and extra question ids."""
  problems = []
  seen, duplicates = set(), set()
  for question_id in ids:
    (duplicates if question_id in seen else seen).add(question_id)
  if duplicates:
    problems.append(f'{len(duplicates)} question ids answered more than once '
                    f'({_quote(duplicates)})')
  expected = set(question_ids)
  missing = expected - seen
  if missing:
    problems.append(f'{len(missing)} of the {len(expected)} questions not '
                    f'answered ({_quote(missing)})')
  extra = seen - expected
  if extra:
    problems.append(f'{len(extra)} question ids not in the questions file '
                    f'({_quote(extra)})')
  return problems


def problems(results, question_ids):
  """Why the official evaluator would refuse `results`; [] if it would not.

  Args:
    results: the parsed results file.
    question_ids: every question id of the split's questions file.
  """
  if not isinstance(results, list):
    return [f'expected a JSON list, found {type(results).__name__}']
  found = _entry_problems(results)
  if found:
    return found
  return _id_problems([entry['question_id'] for entry in results],
                      question_ids)


def check_results(results, question_ids, path):
  """Raises ResultsFileError naming `path` unless `results` is complete."""
  found = problems(results, question_ids)
  if found:
    raise ResultsFileError(f'{path}: not a valid VQA results file: '
                           + '; '.join(found))


def write_results(results, question_ids, path):
  """Checks `results` against the split's question ids, then writes `path`."""
  check_results(results, question_ids, path)
  directory = path.rsplit('/', 1)[0] if '/' in path else ''
  if directory:
    tf.io.gfile.makedirs(directory)
  with tf.io.gfile.GFile(path, 'w') as f:
    json.dump(results, f)
  return path


def read_results(path):
  """The parsed results file at `path` (local or gs://)."""
  try:
    return model_io.read_json(path)
  except ValueError as e:  # not valid JSON
    raise ResultsFileError(str(e)) from e
