"""TFLite models answer like the Keras model they come from, int8 is small,
and `vqa export-tflite` writes the file and its interpreter-measured report."""
import dataclasses
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from trainer.measure import evaluate
from trainer.data import input_pipeline
from trainer.models import model_io
from trainer.models import multimodal
from trainer.measure import sizes
from trainer.models import student
from trainer.serve import tflite_export
from trainer.measure import tflite_evaluation
from trainer.app import cli
from tests.trainer.conftest import TINY_STUDENT

EXAMPLES = 8


@pytest.fixture(scope='module')
def spec(tiny_records):
  return input_pipeline.read_data_spec(tiny_records)


@pytest.fixture(scope='module')
def loaded_student(tiny_student):
  return model_io.load_model(tiny_student)


@pytest.fixture(scope='module')
def val_inputs(spec):
  """The first EXAMPLES validation questions as numpy model inputs."""
  dataset = input_pipeline.make_dataset(spec, 'val2014', EXAMPLES,
                                        training=False, deterministic=True,
                                        for_keras=False)
  inputs, _ = input_pipeline.to_model_inputs(next(iter(dataset)))
  return {name: tensor.numpy() for name, tensor in inputs.items()}


@pytest.fixture(scope='module')
def converted(loaded_student, spec):
  """quantize mode -> .tflite bytes of the tiny student."""
  return {quantize: tflite_export.convert(loaded_student, spec, quantize,
                                          representative_examples=50)
          for quantize in tflite_export.QUANTIZE_MODES}


def _keras_logits(loaded, inputs):
  return loaded.model(inputs, training=False).numpy()


def _loaded(model, model_config, spec, model_dir):
  """An untrained model as model_io.load_model would return it."""
  return model_io.LoadedModel(
      model=model, model_config=model_config, answers=spec.answers,
      max_question_tokens=spec.max_question_tokens,
      image_size=spec.image_size, model_dir=str(model_dir),
      saved_config=model_io.SavedConfig())


def _top_answer_agreement(logits, reference):
  return float(np.mean(logits.argmax(-1) == reference.argmax(-1)))


def test_float_model_gives_the_keras_logits(converted, loaded_student,
                                            val_inputs):
  logits = tflite_export.TFLiteRunner(converted['none']).logits(val_inputs)
  np.testing.assert_allclose(logits, _keras_logits(loaded_student,
                                                   val_inputs),
                             rtol=1e-4, atol=1e-5)


def test_quantized_models_mostly_give_the_keras_top_answer(
    converted, loaded_student, val_inputs):
  reference = _keras_logits(loaded_student, val_inputs)
  dynamic = tflite_export.TFLiteRunner(converted['dynamic'])
  int8 = tflite_export.TFLiteRunner(converted['int8'])
  assert _top_answer_agreement(dynamic.logits(val_inputs), reference) >= 0.75
  assert _top_answer_agreement(int8.logits(val_inputs), reference) > 0.5


def test_int8_output_is_float_logits(converted, val_inputs, spec):
  logits = tflite_export.TFLiteRunner(converted['int8']).logits(val_inputs)
  assert logits.dtype == np.float32
  assert logits.shape == (EXAMPLES, spec.num_answers)


def _weight_types(content):
  """{Keras layer name: numpy dtype} of each MatMul's weights in a
  .tflite file."""
  from ai_edge_litert import interpreter  # pylint: disable=g-import-not-at-top
  runner = interpreter.Interpreter(model_content=content)
  return {details['name'].split('/')[-2]: details['dtype']
          for details in runner.get_tensor_details()
          if details['name'].endswith('/MatMul')}


def test_int8_keeps_only_the_answer_layer_float(converted):
  # An int8 output would tie answers less than one of its 256 levels apart.
  types = _weight_types(converted['int8'])
  assert types.pop('answer_logits') == np.float32
  assert types and set(types.values()) == {np.int8}, types


@pytest.fixture(scope='module')
def full_vocabulary_converted(spec, tmp_path_factory):
  """quantize mode -> .tflite bytes of an untrained tiny student embedding
  the full vocabulary: weights, not the graph, make most of its files."""
  config = dataclasses.replace(TINY_STUDENT, vocabulary='full')
  model = student.build_student(
      config, spec.metadata.tokenizer.vocab_size, spec.num_answers,
      spec.max_question_tokens, spec.image_size)
  loaded = _loaded(model, config, spec, tmp_path_factory.mktemp('full'))
  return {quantize: tflite_export.convert(loaded, spec, quantize,
                                          representative_examples=8)
          for quantize in tflite_export.QUANTIZE_MODES}


def test_quantized_files_are_much_smaller(full_vocabulary_converted):
  sizes_of = {quantize: len(content) for quantize, content
              in full_vocabulary_converted.items()}
  assert sizes_of['int8'] < 0.35 * sizes_of['none']
  assert sizes_of['dynamic'] < 0.35 * sizes_of['none']


def test_runner_reads_a_file_and_runs_any_batch_size(converted, val_inputs,
                                                     tmp_path):
  path = tmp_path / 'model.tflite'
  path.write_bytes(converted['none'])
  runner = tflite_export.TFLiteRunner(str(path))
  assert runner.input_names == ('input_ids', 'attention_mask', 'image')
  assert runner.uses_image
  five = {name: values[:5] for name, values in val_inputs.items()}
  one = {name: values[:1] for name, values in val_inputs.items()}
  batch_of_five = runner.logits(five)
  batch_of_one = runner.logits(one)
  assert batch_of_five.shape[0] == 5 and batch_of_one.shape[0] == 1
  np.testing.assert_allclose(batch_of_one[0], batch_of_five[0], atol=1e-6)
  np.testing.assert_allclose(runner.logits(five), batch_of_five, atol=1e-6)


def test_runner_names_a_missing_input(converted, val_inputs):
  runner = tflite_export.TFLiteRunner(converted['none'])
  inputs = {name: values for name, values in val_inputs.items()
            if name != 'image'}
  with pytest.raises(ValueError, match='image'):
    runner.logits(inputs)


def test_interpreter_evaluation_matches_keras_evaluation(converted, spec,
                                                         tiny_student):
  keras_report, keras_arrays, _ = evaluate.evaluate_model(
      tiny_student, spec, 'val2014')
  report, arrays, _ = tflite_evaluation.evaluate_tflite(
      converted['none'], spec, 'val2014', batch_size=32)
  np.testing.assert_array_equal(arrays['question_id'],
                                keras_arrays['question_id'])
  assert report['questions_written'] == keras_report['questions_written']
  assert report['vqa_accuracy']['written'] == pytest.approx(
      keras_report['vqa_accuracy']['written'], abs=0.01)
  assert report['examples_per_second'] > 0


@pytest.fixture
def student_copy(tiny_student, tmp_path):
  """A private copy: exports must not add files to the shared fixture."""
  return shutil.copytree(tiny_student, tmp_path / 'student')


def test_export_writes_the_model_and_its_report(student_copy, tiny_records,
                                                spec):
  result = tflite_evaluation.export_tflite(str(student_copy), tiny_records,
                                       quantize='int8',
                                       representative_examples=50)
  path = tflite_export.tflite_path(str(student_copy), 'int8')
  assert result['path'] == path
  assert path == os.path.join(str(student_copy), 'tflite',
                              'model-int8.tflite')
  assert result['raw_bytes'] == os.path.getsize(path)
  assert result['gzip_bytes'] > 0
  assert result['keras_weights_bytes'] == sizes.saved_weights_size(
      str(student_copy))['raw_bytes']
  assert result['quantize'] == 'int8' and result['split'] == 'val2014'
  report = result['report']
  assert report['questions_written'] == input_pipeline.count_examples(
      spec, 'val2014')
  assert 0 <= report['vqa_accuracy']['written'] <= 1
  with open(os.path.join(str(student_copy), 'tflite',
                         'model-int8.json')) as f:
    assert json.load(f) == result


def test_cli_prints_size_ratio_and_accuracy(student_copy, tiny_records,
                                            capsys):
  code = cli.main(['export-tflite', '--model', str(student_copy), '--data',
                   tiny_records, '--quantize', 'none'])
  out = capsys.readouterr().out
  assert code == 0
  assert 'x the Keras weights' in out
  assert 'VQA accuracy measured with the TFLite interpreter (none)' in out
  assert os.path.exists(tflite_export.tflite_path(str(student_copy), 'none'))
  with open(os.path.join(str(student_copy), 'tflite',
                         'model-none_export_tflite_config.json')) as f:
    assert json.load(f)['quantize'] == 'none'


def test_cli_reports_a_missing_model_dir(tiny_records, tmp_path, capsys):
  missing = str(tmp_path / 'no-such-model')
  code = cli.main(['export-tflite', '--model', missing, '--data',
                   tiny_records])
  err = capsys.readouterr().err
  assert code == 2
  assert err.startswith('vqa export-tflite: error:')
  assert missing in err


def test_cli_reports_an_unknown_split(tiny_student, tiny_records, capsys):
  code = cli.main(['export-tflite', '--model', tiny_student, '--data',
                   tiny_records, '--split', 'test2015'])
  assert code == 2
  assert "--split 'test2015'" in capsys.readouterr().err


def test_unknown_quantize_mode_is_rejected(loaded_student, spec):
  with pytest.raises(ValueError, match='int4'):
    tflite_export.convert(loaded_student, spec, 'int4')


class CumulativeProduct(tf.keras.layers.Layer):
  """tf.math.cumprod: an op TFLite builtins lack (Cumsum they have)."""

  def call(self, values):
    return tf.math.cumprod(values, axis=-1)


def test_an_op_outside_tflite_builtins_raises_conversion_error(spec,
                                                               tmp_path):
  inputs = multimodal.model_inputs(spec.max_question_tokens)
  features = CumulativeProduct()(tf.cast(inputs['input_ids'], tf.float32))
  model = tf.keras.Model(
      inputs, tf.keras.layers.Dense(spec.num_answers)(features))
  loaded = _loaded(model, multimodal.ModelConfig(), spec, tmp_path)
  with pytest.raises(tflite_export.ConversionError) as error:
    tflite_export.convert(loaded, spec, 'dynamic')
  message = str(error.value)
  assert message.startswith(f'{tmp_path}: cannot convert')
  assert 'TF Select ops: Cumprod' in message


@pytest.mark.slow  # the converter takes 30-60 s to give up on the BiLSTM
def test_lstm_student_needs_ops_outside_tflite_builtins(spec, tmp_path):
  config = student.StudentConfig(text_layer='lstm', vocabulary='full',
                                 embedding_dim=8,
                                 text_width=8, image_filters=(8,),
                                 fusion_width=8, hidden_width=8)
  model = student.build_student(
      config, spec.metadata.tokenizer.vocab_size, spec.num_answers,
      spec.max_question_tokens, spec.image_size)
  loaded = _loaded(model, config, spec, tmp_path)
  with pytest.raises(tflite_export.ConversionError) as error:
    tflite_export.convert(loaded, spec, 'none')
  message = str(error.value)
  assert message.startswith(f'{tmp_path}: cannot convert the student')
  assert 'TensorListReserve' in message
  assert 'cnn text layer' in message


@pytest.mark.slow  # converting even the tiny BERT takes about a minute
def test_tiny_teacher_converts_with_builtins(tiny_teacher, spec, val_inputs):
  loaded = model_io.load_model(tiny_teacher)
  runner = tflite_export.TFLiteRunner(
      tflite_export.convert(loaded, spec, 'none'))
  np.testing.assert_allclose(runner.logits(val_inputs),
                             _keras_logits(loaded, val_inputs),
                             rtol=1e-3, atol=1e-4)
