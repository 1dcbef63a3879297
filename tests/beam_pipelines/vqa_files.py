"""Writes small VQA v2 data sets in the official layout, good and broken."""
import json
import os

from beam_pipelines import layout


def human_answers(answers):
  return [{'answer': a, 'answer_confidence': 'yes', 'answer_id': i + 1}
          for i, a in enumerate(answers)]


def question(question_id, image_id, text):
  return {'question_id': question_id, 'image_id': image_id, 'question': text}


def annotation(question_id, image_id, answers, answer_type='other',
               question_type='what color is the'):
  return {'question_id': question_id, 'image_id': image_id,
          'question_type': question_type, 'answer_type': answer_type,
          'multiple_choice_answer': answers[0],
          'answers': human_answers(answers)}


def write_split(data_dir, split, questions, annotations, images):
  """Writes one split; `images` maps image_id to file bytes."""
  os.makedirs(os.path.join(data_dir, split), exist_ok=True)
  with open(os.path.join(data_dir, layout.questions_filename(split)), 'w') as f:
    json.dump({'data_subtype': split, 'questions': questions}, f)
  if annotations is not None:
    with open(os.path.join(data_dir, layout.annotations_filename(split)),
              'w') as f:
      json.dump({'data_subtype': split, 'annotations': annotations}, f)
  for image_id, raw in images.items():
    with open(os.path.join(data_dir, split,
                           layout.image_filename(split, image_id)), 'wb') as f:
      f.write(raw)
