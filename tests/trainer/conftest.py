"""Tiny preprocessed records shared by the trainer tests; every size comes
from the app's `tiny` preset."""
import dataclasses

import pytest

from beam_pipelines import preprocess
from beam_pipelines import sample_data
from trainer.app import presets
from trainer.fit import distill
from trainer.models import multimodal
from trainer.fit import train

IMAGE_SIZE = presets.TINY_IMAGE_SIZE
TINY_IMAGE_ALPHA = presets.TINY_IMAGE_ALPHA


@pytest.fixture(scope='session')
def tiny_records(tmp_path_factory):
  """Sample data (32 px, ~150 questions per split) preprocessed in memory."""
  raw = str(tmp_path_factory.mktemp('raw'))
  sample_data.generate(raw, presets.job_config(
      'tiny', 'sample-data', sample_data.SampleDataConfig))
  output = str(tmp_path_factory.mktemp('records'))
  preprocess.run_preprocess(presets.job_config(
      'tiny', 'preprocess', preprocess.PreprocessConfig, data_dir=raw,
      output=output), ['--direct_running_mode=in_memory'])
  return output


def tiny_config(data, output, **overrides):
  """A seconds-long configuration: tiny random BERT, MobileNetV2 x0.35;
  ModelConfig fields may be given among the overrides."""
  model_names = {field.name for field in dataclasses.fields(
      multimodal.ModelConfig)}
  model = {k: overrides.pop(k) for k in list(overrides) if k in model_names}
  return presets.job_config('tiny', 'train', train.TrainConfig, data=data,
                            output=str(output), model=model, **overrides)


TINY_STUDENT = presets.job_config('tiny', 'distill',
                                  distill.DistillConfig).student


@pytest.fixture(scope='session')
def tiny_teacher(tiny_records, tmp_path_factory):
  """A tiny teacher trained for a few steps (no export)."""
  output = tmp_path_factory.mktemp('teacher') / 'model'
  train.train_and_evaluate(tiny_config(tiny_records, output, epochs=1,
                                       steps_per_epoch=4, export=False))
  return str(output)


def tiny_distill_config(data, teacher, output, **overrides):
  """A seconds-long distillation of the tiny teacher into a tiny student."""
  return presets.job_config('tiny', 'distill', distill.DistillConfig,
                            teacher=teacher, data=data, output=str(output),
                            **overrides)


@pytest.fixture(scope='session')
def tiny_student(tiny_records, tmp_path_factory):
  """A tiny student trained without a teacher for a few steps (no export)."""
  output = tmp_path_factory.mktemp('student') / 'model'
  distill.distill(tiny_distill_config(tiny_records, '', output, alpha=1.0,
                                      epochs=2, steps_per_epoch=4))
  return str(output)


def save_image_weights(path):
  """A MobileNetV2 weights file of the tiny teacher's shape: what a user's
  own pretrained weights look like to `--image-weights FILE` (random here;
  the tests that use it need a frozen image encoder, not good features)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.keras.utils.set_random_seed(0)  # the same file every time
  tf.keras.applications.MobileNetV2(
      input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), alpha=TINY_IMAGE_ALPHA,
      include_top=False, pooling='avg', weights=None).save_weights(str(path))
  return str(path)


@pytest.fixture(scope='session')
def image_weights_file(tmp_path_factory):
  return save_image_weights(
      tmp_path_factory.mktemp('image_weights') / 'mobilenet_v2.h5')


@pytest.fixture(scope='session')
def served_models(tiny_records, tiny_teacher, tiny_student, tmp_path_factory):
  """((name, path), ...) of deployable artefacts: the tiny teacher and
  student exported as SavedModels (copies: the shared fixtures stay as they
  are) and the student's int8 .tflite file."""
  # pylint: disable=g-import-not-at-top
  import shutil
  from trainer.serve import export
  from trainer.serve import tflite_export
  from trainer.measure import tflite_evaluation
  # pylint: enable=g-import-not-at-top
  root = tmp_path_factory.mktemp('served')
  teacher, student_dir = str(root / 'teacher'), str(root / 'student')
  shutil.copytree(tiny_teacher, teacher)
  shutil.copytree(tiny_student, student_dir)
  for model_dir in (teacher, student_dir):
    export.export_saved_model(model_dir)
  tflite_evaluation.export_tflite(student_dir, tiny_records, 'int8',
                              representative_examples=8)
  return (('teacher', teacher), ('student', student_dir),
          ('student-int8', tflite_export.tflite_path(student_dir, 'int8')))
