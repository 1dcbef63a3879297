"""Building, saving and loading trained models: MODEL_DIR's layout.

The same layout holds the teacher, the question-only baseline, a distilled
student and a pruned model; config.json's "architecture" says which to build.

MODEL_DIR/
  config.json           architecture, resolved job config, answers, tokenizer
  text_encoder.json     (teacher) the BERT config: loading needs no pretrained
                        files
  tokenizer/            the WordPiece files the records were encoded with
  vocabulary.json       (student, compact vocabulary) the full ids its token
                        embedding keeps (trainer/data/compact_vocabulary.py)
  model/weights.*       the trained weights (TensorFlow checkpoint)
  history.json          per-epoch metrics and timings
  checkpoints/, backup/, logs/   per-epoch checkpoints, resume state, TensorBoard
"""
import dataclasses
import json
import os

import tensorflow as tf

from trainer.contract import errors
from trainer.contract import record_spec
from trainer.data import compact_vocabulary
from trainer.models import multimodal
from trainer.models import student
from trainer.models import text_encoder

CONFIG_FILE = 'config.json'
TEXT_ENCODER_FILE = 'text_encoder.json'
HISTORY_FILE = 'history.json'
WEIGHTS_PREFIX = os.path.join('model', 'weights')
TOKENIZER_DIR = 'tokenizer'
VOCABULARY_FILE = 'vocabulary.json'
TINY_TEXT_ENCODER = 'tiny'
TEACHER = 'teacher'  # ModelConfig: the teacher or the question-only baseline
STUDENT = 'student'  # student.StudentConfig


def write_json(value, path):
  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.gfile.GFile(path, 'w') as f:
    json.dump(value, f, indent=2, sort_keys=True, default=str)


def write_file(data, path):
  """Writes bytes or text to `path` (local or gs://), making its folder."""
  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.gfile.GFile(path, 'wb' if isinstance(data, bytes) else 'w') as f:
    f.write(data)


def read_json(path):
  if not tf.io.gfile.exists(path):
    raise errors.MissingInput(f'{path}: not found')
  with tf.io.gfile.GFile(path) as f:
    try:
      return json.load(f)
    except json.JSONDecodeError as e:
      raise errors.UserError(f'{path}: not valid JSON ({e})') from e


def _pretrained_text_encoder(model_config, cache_dir):
  if model_config.text_encoder == TINY_TEXT_ENCODER:
    return text_encoder.build_random_text_encoder()
  bert, _ = text_encoder.load_text_encoder(model_config.text_encoder,
                                           cache_dir or None)
  return bert


def _check_vocabulary(bert, spec):
  records_vocab = spec.metadata.tokenizer.vocab_size
  if bert.config.vocab_size != records_vocab:
    raise errors.UserError(
        f'the records in {spec.data_dir} were tokenised with a vocabulary of '
        f'{records_vocab} ({spec.metadata.tokenizer.name}), but the '
        f'text encoder has {bert.config.vocab_size}: use the same tokenizer '
        'for `vqa preprocess --tokenizer` and `vqa train --text-encoder`')


def build_layers(model_config, spec, cache_dir=''):
  """TeacherLayers with pretrained encoders; call inside strategy.scope()."""
  bert = _pretrained_text_encoder(model_config, cache_dir)
  _check_vocabulary(bert, spec)
  return multimodal.TeacherLayers(model_config, spec.num_answers, bert)


def _copy_tokenizer(data_dir, model_dir):
  source = record_spec.tokenizer_dir(data_dir)
  target = os.path.join(model_dir, TOKENIZER_DIR)
  tf.io.gfile.makedirs(target)
  for name in tf.io.gfile.listdir(source):
    tf.io.gfile.copy(os.path.join(source, name), os.path.join(target, name),
                     overwrite=True)


def architecture_of(model_config):
  return STUDENT if isinstance(model_config, student.StudentConfig) else TEACHER


def _write_text_encoder_config(model, model_dir):
  import transformers  # pylint: disable=g-import-not-at-top
  bert = next(layer for layer in model.layers
              if isinstance(layer, transformers.TFBertModel))
  write_json(bert.config.to_dict(),
             os.path.join(model_dir, TEXT_ENCODER_FILE))


def save_model(model, job, spec, model_dir, model_config=None, extra=None):
  """Writes weights, config.json, the tokenizer (and text_encoder.json).

  Args:
    model: the Functional model (teacher, question-only or student).
    job: the dataclass of the job that made it (training, distillation...).
    spec: DataSpec of the records it was trained on.
    model_dir: MODEL_DIR.
    model_config: its architecture config; default `job.model`.
    extra: more facts for config.json (e.g. pruning results).
  """
  model_config = model_config or job.model
  architecture = architecture_of(model_config)
  model.save_weights(os.path.join(model_dir, WEIGHTS_PREFIX))
  if architecture == TEACHER:
    _write_text_encoder_config(model, model_dir)
  vocabulary = student.compact_vocabulary_of(model)
  if vocabulary is not None:
    write_json(vocabulary.to_json(), os.path.join(model_dir, VOCABULARY_FILE))
  values = {
      'architecture': architecture,
      'train': dataclasses.asdict(job),
      'job': type(job).__name__,
      'model': dataclasses.asdict(model_config),
      'answers': list(spec.answers),
      'max_question_tokens': spec.max_question_tokens,
      'vocab_size': spec.metadata.tokenizer.vocab_size,
      'tokenizer': spec.metadata.tokenizer.to_json(),
      'data': spec.data_dir,
  }
  # Stored once: in the model's config when it has the field (teacher).
  if 'image_size' not in values['model']:
    values['image_size'] = spec.image_size
  write_json(dict(values, **(extra or {})),
             os.path.join(model_dir, CONFIG_FILE))
  _copy_tokenizer(spec.data_dir, model_dir)


@dataclasses.dataclass(frozen=True)
class SavedConfig:
  """MODEL_DIR/config.json, typed."""
  architecture: str = TEACHER
  answers: tuple = ()
  max_question_tokens: int = 0
  image_size: int = 0
  vocab_size: int = 0
  model: dict = dataclasses.field(default_factory=dict)
  train: dict = dataclasses.field(default_factory=dict)  # the job's config
  job: str = ''  # the job's config class: TrainConfig, PruneConfig, ...

  @property
  def train_split(self):
    """The job's training split; None when its config has none."""
    return self.train.get('train_split')


def _required(values, key, path):
  if key not in values:
    raise errors.UserError(f'{path}: missing key {key!r}; was it written by '
                     '`vqa train`, `vqa distill` or `vqa prune`?')
  return values[key]


def _image_size(values, path):
  """Top level (students; old files have it twice) or the model's config."""
  if 'image_size' in values:
    return values['image_size']
  return _required(values.get('model', {}), 'image_size', path)


def read_saved_config(model_dir):
  """The SavedConfig of MODEL_DIR; errors name config.json and the key."""
  path = os.path.join(model_dir, CONFIG_FILE)
  if not tf.io.gfile.exists(path):
    raise errors.MissingInput(
        f'{model_dir}: not a MODEL_DIR (it has no {CONFIG_FILE}; `vqa train`, '
        '`vqa distill` and `vqa prune` write one)')
  values = read_json(path)
  if not isinstance(values, dict):
    raise errors.UserError(f'{path}: expected a JSON object')
  architecture = values.get('architecture', TEACHER)
  if architecture not in (TEACHER, STUDENT):
    raise errors.UserError(f'{path}: unknown architecture {architecture!r}')
  return SavedConfig(
      architecture=architecture,
      answers=tuple(_required(values, 'answers', path)),
      max_question_tokens=_required(values, 'max_question_tokens', path),
      image_size=_image_size(values, path),
      vocab_size=values.get('vocab_size', 0),
      model=_required(values, 'model', path),
      train=values.get('train', {}),
      job=values.get('job', ''))


def check_same_answers(model_answers, model_source, answers, answers_source):
  """Raises ValueError unless a model answers over the given vocabulary.

  Args:
    model_answers: the model's answers (its config.json's), or their number
      when only the width of its logits is known (a .tflite file).
    model_source: the file or folder the model's answers come from.
    answers: the vocabulary it must answer over (e.g. DataSpec.answers).
    answers_source: the file that lists `answers` (e.g. answers.json).
  """
  if isinstance(model_answers, int):
    if model_answers != len(answers):
      raise errors.UserError(
          f'{model_source} answers over {model_answers} answers but '
          f'{answers_source} lists {len(answers)}: it was trained on another '
          'answer vocabulary')
  elif tuple(model_answers) != tuple(answers):
    raise errors.UserError(f'{model_source} was trained on another answer '
                     f'vocabulary than {answers_source} '
                     f'({len(model_answers)} answers against {len(answers)})')


@dataclasses.dataclass
class LoadedModel:
  model: tf.keras.Model
  model_config: object  # multimodal.ModelConfig or student.StudentConfig
  answers: tuple
  max_question_tokens: int
  image_size: int
  model_dir: str
  saved_config: SavedConfig
  # A teacher's multimodal.TeacherLayers (inference.loaded_logits encodes
  # each distinct question once with them); None for a student.
  layers: object = None

  @property
  def tokenizer_dir(self):
    return os.path.join(self.model_dir, TOKENIZER_DIR)

  @property
  def architecture(self):
    return architecture_of(self.model_config)

  @property
  def uses_image(self):
    return self.model_config.uses_image


def _build_teacher(saved, model_dir):
  bert_config = read_json(os.path.join(model_dir, TEXT_ENCODER_FILE))
  model_config = multimodal.ModelConfig(**dict(saved.model,
                                           image_weights='none'))
  import transformers  # pylint: disable=g-import-not-at-top
  bert = text_encoder.build_random_text_encoder(
      transformers.BertConfig.from_dict(bert_config))
  layers = multimodal.TeacherLayers(model_config, len(saved.answers), bert)
  return (multimodal.full_model(layers, saved.max_question_tokens),
          model_config, layers)


def read_compact_vocabulary(model_dir):
  path = os.path.join(model_dir, VOCABULARY_FILE)
  return compact_vocabulary.CompactVocabulary.from_json(read_json(path), path)


def saved_student_config(saved):
  """The StudentConfig a saved student was built with.

  Students saved before the compact vocabulary embed the full one; those
  saved before image_min_map have their image_filters alone; those saved
  before image_downsampling halve with stride-2 convolutions.
  """
  return student.StudentConfig.from_dict(
      dict({'vocabulary': 'full', 'image_min_map': 0,
            'image_downsampling': 'stride'}, **saved.model))


def _build_student(saved, model_dir):
  model_config = saved_student_config(saved)
  vocabulary = (read_compact_vocabulary(model_dir)
                if model_config.vocabulary == 'compact' else None)
  model = student.build_student(
      model_config, saved.vocab_size, len(saved.answers),
      saved.max_question_tokens, saved.image_size, vocabulary)
  return model, model_config, None


_BUILDERS = {TEACHER: _build_teacher, STUDENT: _build_student}


def load_model(model_dir):
  """Rebuilds a trained model from MODEL_DIR alone (no pretrained files)."""
  saved = read_saved_config(model_dir)
  model, model_config, layers = _BUILDERS[saved.architecture](saved,
                                                              model_dir)
  model.load_weights(os.path.join(model_dir, WEIGHTS_PREFIX)).expect_partial()
  return LoadedModel(model=model, model_config=model_config,
                     answers=saved.answers,
                     max_question_tokens=saved.max_question_tokens,
                     image_size=saved.image_size, model_dir=model_dir,
                     saved_config=saved, layers=layers)
