"""Where every input question ends up: written, filtered or rejected (and why).

Outcomes travel through the pipeline as (split, kind, reason) tuples; this module
names them and turns their counts into the `counts` section of metadata.json and
the summary printed at the end. Pure Python; no Beam.
"""
# Kinds of outcome. Every question read ends in exactly one of WRITTEN,
# FILTERED or REJECTED; READ counts them at the source, EVENT counts the rest.
READ = 'read'
WRITTEN = 'written'
FILTERED = 'filtered'
REJECTED = 'rejected'
EVENT = 'event'

# Filter reasons.
ANSWER_NOT_IN_VOCABULARY = 'answer_not_in_vocabulary'

# Rejection reasons for a question.
MISSING_IMAGE = 'missing_image'
EMPTY_IMAGE = 'empty_image'
UNREADABLE_IMAGE = 'unreadable_image'
TRUNCATED_IMAGE = 'truncated_image'
IMAGE_TOO_LARGE = 'image_too_large'
DUPLICATE_QUESTION_ID = 'duplicate_question_id'
MISSING_ANNOTATION = 'missing_annotation'
MALFORMED_ANNOTATION = 'malformed_annotation'
IMAGE_ID_MISMATCH = 'image_id_mismatch'
EMPTY_QUESTION = 'empty_question'
MALFORMED_QUESTION = 'malformed_question'

IMAGE_REASONS = (MISSING_IMAGE, EMPTY_IMAGE, UNREADABLE_IMAGE, TRUNCATED_IMAGE,
                 IMAGE_TOO_LARGE)
REJECT_REASONS = IMAGE_REASONS + (
    DUPLICATE_QUESTION_ID, MISSING_ANNOTATION, MALFORMED_ANNOTATION,
    IMAGE_ID_MISMATCH, EMPTY_QUESTION, MALFORMED_QUESTION)

# Events: counted, but not outcomes of a question.
IMAGES_REFERENCED = 'images_referenced'
IMAGES_READ = 'images_read'
IMAGES_REJECTED = 'images_rejected'
TRUNCATED_QUESTIONS = 'truncated_questions'
LABEL_OUTSIDE_VOCABULARY = 'written_with_label_outside_vocabulary'
ANNOTATION_WITHOUT_QUESTION = 'annotations_without_question'
DUPLICATE_ANNOTATIONS = 'duplicate_annotations'
MALFORMED_ANNOTATION_RECORDS = 'malformed_annotation_records'


def outcome(split, kind, reason=''):
  return (split, kind, reason)


def counter_name(outcome_key):
  split, kind, reason = outcome_key
  return '/'.join(part for part in (split, kind, reason) if part)


def empty_split_counts():
  return {'questions': 0, WRITTEN: 0, FILTERED: {}, REJECTED: {}, 'events': {}}


def build_counts(outcome_counts, splits):
  """Nests [((split, kind, reason), n)] into {split: {...}} for metadata.json."""
  counts = {split: empty_split_counts() for split in splits}
  for (split, kind, reason), n in sorted(outcome_counts):
    entry = counts.setdefault(split, empty_split_counts())
    if kind == READ:
      entry['questions'] += n
    elif kind == WRITTEN:
      entry[WRITTEN] += n
    elif kind in (FILTERED, REJECTED):
      entry[kind][reason] = entry[kind].get(reason, 0) + n
    else:
      entry['events'][reason] = entry['events'].get(reason, 0) + n
  return counts


def unaccounted(split_counts):
  """Questions read but neither written, filtered nor rejected (should be 0)."""
  return (split_counts['questions'] - split_counts[WRITTEN]
          - sum(split_counts[FILTERED].values())
          - sum(split_counts[REJECTED].values()))


def format_summary(counts):
  """A short human-readable accounting, one block per split."""
  lines = []
  for split, entry in counts.items():
    lines.append(f'{split}: {entry["questions"]} questions read, '
                 f'{entry[WRITTEN]} written, '
                 f'{sum(entry[FILTERED].values())} filtered, '
                 f'{sum(entry[REJECTED].values())} rejected')
    for kind in (FILTERED, REJECTED):
      for reason, n in sorted(entry[kind].items()):
        lines.append(f'  {kind} {reason}: {n}')
    for name, n in sorted(entry['events'].items()):
      lines.append(f'  {name}: {n}')
    missing = unaccounted(entry)
    if missing:
      lines.append(f'  UNACCOUNTED: {missing} (a bug: please report it)')
  return '\n'.join(lines)
