"""Reading back the files that beam_pipelines.sample_data writes."""
import json
import pathlib

from beam_pipelines import layout

NUMBER_WORDS = ('one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight',
                'nine', 'ten')


def normalize(answer):
  """A stand-in for the official VQA normalisation of sample-data answers."""
  text = answer.strip().lower().rstrip('.')
  if text in NUMBER_WORDS:
    return str(NUMBER_WORDS.index(text) + 1)
  return text


def load_split(out_dir, split):
  with open(layout.questions_path(str(out_dir), split)) as f:
    questions = json.load(f)
  with open(layout.annotations_path(str(out_dir), split)) as f:
    annotations = json.load(f)
  return questions, annotations


def qa_pairs(out_dir, split):
  """Returns (question text, annotation) for every question of a split."""
  questions, annotations = load_split(out_dir, split)
  texts = {q['question_id']: q['question'] for q in questions['questions']}
  return [(texts[a['question_id']], a) for a in annotations['annotations']]


def file_bytes(root):
  root = pathlib.Path(root)
  return {path.relative_to(root): path.read_bytes()
          for path in sorted(root.rglob('*')) if path.is_file()}
