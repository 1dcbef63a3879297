"""Where every input question ends up: written, filtered or rejected (and why).

Outcomes travel through the pipeline as (split, kind, reason) tuples; this module
names them and turns their counts into the `counts` section of metadata.json and
the summary printed at the end, and checks after a run that nothing was lost
between its steps (find_losses). Pure Python; no Beam.
"""
from trainer.contract import errors

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
ANNOTATIONS_READ = 'annotations_read'
ANNOTATIONS_JOINED = 'annotations_joined'
ANNOTATION_WITHOUT_QUESTION = 'annotations_without_question'
DUPLICATE_ANNOTATIONS = 'duplicate_annotations'
MALFORMED_ANNOTATION_RECORDS = 'malformed_annotation_records'
# From the shard writer's own (path, records) list, not from outcomes.
RECORDS_IN_SHARDS = 'records_in_shards'
SHARDS_WRITTEN = 'shards_written'
SHARD_EVENTS = (RECORDS_IN_SHARDS, SHARDS_WRITTEN)

# A labelled split with a larger share of questions without annotation is a
# wrong pair of files (or a lost step), not a result to write.
MAX_MISSING_ANNOTATION_SHARE = 0.05

# Hand-overs between steps, each counted by its sender and its receiver:
# edge -> (sending step, receiving step, what is handed over). The vocabulary
# edges exist only when the vocabulary is built from the training split.
QUESTIONS_EDGE = 'questions'
ANNOTATIONS_EDGE = 'annotations'
JOINED_EDGE = 'joined'
LABELLED_EDGE = 'labelled'
TOKENIZED_EDGE = 'tokenized'
REJECTED_EDGE = 'rejected'
VOCABULARY_RECORDS_EDGE = 'vocabulary_records'
TOP_ANSWERS_EDGE = 'top_answers'
ANSWER_COUNTS_EDGE = 'answer_counts'
EDGES = {
    QUESTIONS_EDGE: ('ReadQuestions', 'JoinAnnotations', 'keyed questions'),
    ANNOTATIONS_EDGE: ('ReadAnnotations', 'JoinAnnotations',
                       'keyed annotations'),
    JOINED_EDGE: ('JoinAnnotations', 'AssignLabels', 'joined records'),
    LABELLED_EDGE: ('AssignLabels', 'Tokenize', 'labelled records'),
    TOKENIZED_EDGE: ('Tokenize', 'WriteShards', 'tokenised records'),
    REJECTED_EDGE: ('the deciding steps', 'WriteRejected',
                    'rejected questions'),
    VOCABULARY_RECORDS_EDGE: ('JoinAnnotations', 'BuildVocabulary',
                              'joined records'),
    TOP_ANSWERS_EDGE: ('BuildVocabulary/TopAnswer',
                       'BuildVocabulary/CountAnswers', 'top answers'),
    ANSWER_COUNTS_EDGE: ('BuildVocabulary/CountAnswers',
                         'BuildVocabulary/TopK', 'answer counts'),
}
# Checked by their own counts, not by counters: the shard writer's
# (path, records) list and the outcomes themselves.
SHARDS_EDGE = 'shards'
OUTCOMES_EDGE = 'outcomes'
# Each split's input files: one path listed, so each must arrive once.
QUESTIONS_FILE_EDGE = 'questions_file'
ANNOTATIONS_FILE_EDGE = 'annotations_file'
FILE_EDGES = {QUESTIONS_FILE_EDGE: ('ReadQuestions', 'questions file'),
              ANNOTATIONS_FILE_EDGE: ('ReadAnnotations', 'annotations file')}
VOCABULARY_EDGES = (VOCABULARY_RECORDS_EDGE, TOP_ANSWERS_EDGE,
                    ANSWER_COUNTS_EDGE)
# What the sender of the vocabulary's first edge counts (JoinAnnotations
# counts each joined record once, for both of its receivers).
_SENT_AS = {VOCABULARY_RECORDS_EDGE: JOINED_EDGE}

_DECIDING_STEP = {
    (READ, ''): 'ReadQuestions', (WRITTEN, ''): 'WriteShards',
    (FILTERED, ANSWER_NOT_IN_VOCABULARY): 'AssignLabels',
    (EVENT, ANNOTATIONS_READ): 'ReadAnnotations',
    (EVENT, MALFORMED_ANNOTATION_RECORDS): 'ReadAnnotations',
    (EVENT, TRUNCATED_QUESTIONS): 'Tokenize',
    (EVENT, LABEL_OUTSIDE_VOCABULARY): 'AssignLabels',
    (REJECTED, EMPTY_QUESTION): 'ReadQuestions',
    (REJECTED, MALFORMED_QUESTION): 'ReadQuestions',
}


class AccountingError(errors.UserError):
  """A run's counts do not add up: its output is not to be trusted."""


def outcome(split, kind, reason=''):
  return (split, kind, reason)


def counter_name(outcome_key):
  split, kind, reason = outcome_key
  return '/'.join(part for part in (split, kind, reason) if part)


def sent_counter(outcome_key):
  """The counter of outcomes sent by the step that decides them."""
  return 'sent/' + counter_name(outcome_key)


def flow_counter(split, edge, side):
  """The counter of elements sent or received (`side`) over `edge`."""
  return f'flow/{split}/{edge}/{side}'


def _outcome_counts_of(counters, prefix, splits):
  """Nested counts, as in metadata, of the outcome counters under `prefix`."""
  kinds = (READ, WRITTEN, FILTERED, REJECTED, EVENT)
  pairs = []
  for name, n in counters.items():
    if not name.startswith(prefix):
      continue
    parts = name[len(prefix):].split('/', 2)
    if len(parts) >= 2 and parts[0] in splits and parts[1] in kinds:
      pairs.append(((parts[0], parts[1], parts[2] if len(parts) > 2 else ''),
                    n))
  return build_counts(pairs, splits)


def _flat(entry):
  """{(kind, reason): n} of one split's nested counts, shard events aside."""
  flat = {(READ, ''): entry['questions'], (WRITTEN, ''): entry[WRITTEN]}
  for kind in (FILTERED, REJECTED):
    flat.update(((kind, reason), n) for reason, n in entry[kind].items())
  flat.update(((EVENT, name), n) for name, n in entry['events'].items()
              if name not in SHARD_EVENTS)
  return {key: n for key, n in flat.items() if n}


def _deciding_step(kind, reason):
  if (kind, reason) in _DECIDING_STEP:
    return _DECIDING_STEP[(kind, reason)]
  if reason in IMAGE_REASONS or reason.startswith(IMAGES_REJECTED) or (
      reason in (IMAGES_REFERENCED, IMAGES_READ)):
    return 'WriteShards'
  return 'JoinAnnotations'


def _edge_losses(split, counters, vocabulary_split, labelled):
  problems = []
  for edge, (reader, what) in FILE_EDGES.items():
    expected = 0 if edge == ANNOTATIONS_FILE_EDGE and not labelled else 1
    got = counters.get(flow_counter(split, edge, 'received'), 0)
    if got != expected:
      problems.append(f'{split}: {reader} received {got} of the {expected} '
                      f'{what} path(s) the pipeline listed')
  for edge, (sender, receiver, what) in EDGES.items():
    if edge in VOCABULARY_EDGES and split != vocabulary_split:
      continue
    sent = counters.get(flow_counter(split, _SENT_AS.get(edge, edge), 'sent'),
                        0)
    got = counters.get(flow_counter(split, edge, 'received'), 0)
    if sent != got:
      problems.append(f'{split}: {receiver} received {got} of the {sent} '
                      f'{what} that {sender} sent')
  return problems


def _outcome_losses(split, sent, got, written):
  problems = []
  for kind, reason in sorted(sent.keys() | got.keys() | written.keys()):
    n_sent = sent.get((kind, reason), 0)
    n_got = got.get((kind, reason), 0)
    n_written = written.get((kind, reason), 0)
    name = f'{kind} {reason}'.strip()
    if n_sent != n_got:
      problems.append(f'{split}: CountOutcomes received {n_got} of the '
                      f'{n_sent} "{name}" outcomes that '
                      f'{_deciding_step(kind, reason)} sent')
    elif n_got != n_written:
      problems.append(f'{split}: WriteMetadata recorded {n_written} of the '
                      f'{n_got} "{name}" outcomes that CountOutcomes counted')
  return problems


def _balance_losses(split, entry, num_shards):
  problems = []
  missing = unaccounted(entry)
  if missing:
    problems.append(f'{split}: {missing} of the {entry["questions"]} '
                    'questions ReadQuestions read were neither written, '
                    'filtered nor rejected')
  events = entry['events']
  read = events.get(ANNOTATIONS_READ, 0)
  joined = events.get(ANNOTATIONS_JOINED, 0)
  orphans = events.get(ANNOTATION_WITHOUT_QUESTION, 0)
  malformed = events.get(MALFORMED_ANNOTATION_RECORDS, 0)
  if read != joined + orphans + malformed:
    problems.append(f'{split}: ReadAnnotations read {read} annotations but '
                    f'JoinAnnotations joined {joined}, found {orphans} '
                    f'without a question and {malformed} without a question '
                    'id')
  in_shards = events.get(RECORDS_IN_SHARDS, 0)
  shards = events.get(SHARDS_WRITTEN, 0)
  if in_shards != entry[WRITTEN] or shards != num_shards:
    problems.append(f'{split}: WriteShards reported {in_shards} records in '
                    f'{shards} of {num_shards} shard files, against '
                    f'{entry[WRITTEN]} written outcomes')
  return problems


def find_losses(counts, counters, num_shards, vocabulary_split,
                labelled_splits):
  """Every way a finished run's numbers disagree, each naming its step.

  Args:
    counts: metadata's {split: {...}} (with the shard writer's events).
    counters: the run's Beam counters, {name: value}.
    num_shards: shard files per split.
    vocabulary_split: the split the vocabulary was built from, or None
      when an answers.json was reused.
    labelled_splits: the splits read with an annotations file.

  Returns:
    A list of one-line problems; empty when everything adds up.
  """
  splits = tuple(counts)
  sent = _outcome_counts_of(counters, 'sent/', splits)
  got = _outcome_counts_of(counters, '', splits)
  problems = []
  for split, entry in counts.items():
    problems += _edge_losses(split, counters, vocabulary_split,
                             split in labelled_splits)
    problems += _outcome_losses(split, _flat(sent[split]), _flat(got[split]),
                                _flat(entry))
    problems += _balance_losses(split, entry, num_shards)
  return problems


def missing_annotation_share(entry):
  """The share of a split's questions rejected for want of an annotation."""
  if not entry['questions']:
    return 0.0
  return entry[REJECTED].get(MISSING_ANNOTATION, 0) / entry['questions']


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
