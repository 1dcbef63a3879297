"""A split's questions and human answers, read as the official evaluator reads
them: from the input files, not from the records.

Preprocessing writes only the questions it can use; a results file must answer
what the official evaluator asks for: on a labelled split exactly the
annotated question ids (`VQA.loadRes` asserts it), on an unlabelled split
(EvalAI's test-dev and test-std) every question id of the questions file.
metadata.json names the files each split was read from (`inputs`);
`--questions-file`/`--annotations-file` choose others,
such as the test-dev2015 subset of test2015.
"""
import dataclasses
import json

import tensorflow as tf

from trainer.contract import dataset_info
from trainer.contract import errors
from trainer.contract import record_spec


@dataclasses.dataclass(frozen=True)
class SplitQuestions:
  """The questions a results file must answer, and their human answers."""
  questions_path: str
  annotations_path: str  # '' for an unlabelled split
  texts: dict  # question id -> question text ('' when unusable), file order
  human_answers: dict  # question id -> [raw human answers]; empty if unlabelled
  duplicate_ids: int  # question records repeating an earlier id
  records_without_id: int  # question records with no integer id

  @property
  def labelled(self):
    return bool(self.annotations_path)

  @property
  def question_ids(self):
    return list(self.texts)

  @property
  def answered_ids(self):
    """The ids a results file answers: on a labelled split the annotated
    ids (questions file order, then annotations without question), on an
    unlabelled split every question id."""
    if not self.labelled:
      return self.question_ids
    return ([i for i in self.texts if i in self.human_answers] +
            [i for i in self.human_answers if i not in self.texts])


def input_files(spec, split, questions='', annotations=''):
  """(questions path, annotations path or '') of `split`.

  Args:
    spec: DataSpec of the preprocessed folder.
    split: the split's name, e.g. 'val2014'.
    questions: a questions file to use instead of the split's (e.g. the
      test-dev2015 subset of test2015).
    annotations: an annotations file to use instead of the split's.
  """
  spec.metadata.check_split(split, '--split')
  recorded = spec.metadata.inputs.get(split, dataset_info.SplitInputs(''))
  questions = questions or recorded.questions
  if not questions:
    raise errors.UserError(
        f'{record_spec.metadata_path(spec.data_dir)}: no questions file '
        f'recorded for {split!r} (written by an older preprocessing run); '
        'pass --questions-file FILE')
  if annotations:
    return questions, annotations
  if not record_spec.is_labelled_split(split, spec.metadata.unlabelled_splits):
    return questions, ''
  return questions, recorded.annotations


def _load_list(path, key):
  if not tf.io.gfile.exists(path):
    raise errors.MissingInput(f'{path}: not found (give its path with '
                            f'--{key}-file FILE)')
  with tf.io.gfile.GFile(path) as f:
    try:
      data = json.load(f)
    except json.JSONDecodeError as e:
      raise errors.UserError(f'{path}: not valid JSON ({e})') from e
  if not isinstance(data, dict) or not isinstance(data.get(key), list):
    raise errors.UserError(f'{path}: expected a JSON object with a "{key}" list '
                     '(official VQA layout)')
  return data[key]


def _is_int(value):
  return isinstance(value, int) and not isinstance(value, bool)


def _question_text(record):
  text = record.get('question')
  return text.strip() if isinstance(text, str) else ''


def read_question_texts(path):
  """({question id: text}, duplicate ids, records without an id).

  The first usable text of a repeated id wins; '' marks an id whose records
  have no usable text.
  """
  texts, duplicates, without_id = {}, 0, 0
  for record in _load_list(path, 'questions'):
    question_id = (record.get('question_id') if isinstance(record, dict)
                   else None)
    if not _is_int(question_id):
      without_id += 1
      continue
    if question_id in texts:
      duplicates += 1
      texts[question_id] = texts[question_id] or _question_text(record)
      continue
    texts[question_id] = _question_text(record)
  return texts, duplicates, without_id


def read_human_answers(path):
  """{question id: [human answers]} of an annotations file.

  Records without an integer id or without string answers are left out: the
  official evaluator could not score them either.
  """
  human = {}
  for record in _load_list(path, 'annotations'):
    if not isinstance(record, dict) or not _is_int(record.get('question_id')):
      continue
    answers = record.get('answers')
    if not isinstance(answers, list) or not answers or not all(
        isinstance(a, dict) and isinstance(a.get('answer'), str)
        for a in answers):
      continue
    human.setdefault(record['question_id'],
                     [a['answer'] for a in answers])
  return human


def read_split_questions(spec, split, questions='', annotations=''):
  """The SplitQuestions of `split` (see `input_files` for the arguments)."""
  questions_path, annotations_path = input_files(spec, split, questions,
                                                 annotations)
  texts, duplicates, without_id = read_question_texts(questions_path)
  human = read_human_answers(annotations_path) if annotations_path else {}
  return SplitQuestions(questions_path=questions_path,
                        annotations_path=annotations_path, texts=texts,
                        human_answers=human, duplicate_ids=duplicates,
                        records_without_id=without_id)


def annotation_mismatch(split_questions):
  """(ids of questions without annotation, ids of annotations without
  question), sorted: the first are left out of a labelled split's results
  file, the second answered with the most common answer (no text)."""
  asked = set(split_questions.texts)
  annotated = set(split_questions.human_answers)
  return sorted(asked - annotated), sorted(annotated - asked)
