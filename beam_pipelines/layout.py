"""The official VQA v2 download layout: file names and top-level JSON schema.

Shared by the sample-data generator and the preprocessing pipeline so that both
agree on where each file lives. No Beam import here.
"""
import posixpath

QUESTIONS_KEY = 'questions'
ANNOTATIONS_KEY = 'annotations'
QUESTION_FIELDS = ('image_id', 'question', 'question_id')
ANNOTATION_FIELDS = ('question_id', 'image_id', 'question_type', 'answer_type',
                     'multiple_choice_answer', 'answers')
HUMAN_ANSWER_FIELDS = ('answer', 'answer_confidence', 'answer_id')
ANSWER_TYPES = ('yes/no', 'number', 'other')
DEFAULT_IMAGE_PATTERN = 'COCO_{split}_{image_id:012d}.jpg'


def join_path(base, *parts):
  """Joins path parts with '/', which is right for local POSIX paths and gs://."""
  return posixpath.join(base, *parts)


def questions_filename(split):
  return f'v2_OpenEnded_mscoco_{split}_questions.json'


def annotations_filename(split):
  return f'v2_mscoco_{split}_annotations.json'


def image_filename(split, image_id, pattern=DEFAULT_IMAGE_PATTERN):
  return pattern.format(split=split, image_id=image_id)


def questions_path(data_dir, split):
  return join_path(data_dir, questions_filename(split))


def annotations_path(data_dir, split):
  return join_path(data_dir, annotations_filename(split))


def image_dir(data_dir, split):
  return join_path(data_dir, split)
