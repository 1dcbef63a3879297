"""Distillation: the loss, the frozen teacher, the side file, the command."""
import dataclasses
import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.trainer.conftest import TINY_STUDENT
from tests.trainer.conftest import tiny_distill_config
from trainer.fit import defaults
from trainer.fit import distill
from trainer.fit import distill_config
from trainer.fit import distillation
from trainer.fit import fit_setup
from trainer.fit import prune
from trainer.fit import teacher_logits
from trainer.measure import evaluate
from trainer.models import model_io
from trainer.models import student as student_lib
from trainer.data import targets
from trainer.app import cli
from trainer.app import presets
from trainer.contract import record_spec


def _softmax(values):
  e = np.exp(values - np.max(values))
  return e / e.sum()


def test_distillation_loss_matches_a_hand_computed_example():
  teacher = np.array([[2.0, 0.0, -1.0]])
  student = np.array([[0.5, 1.0, 0.0]])
  scores = np.array([[1.0, 0.3, 0.0]])
  y_true = targets.pack(tf.constant([0]), tf.constant(scores))
  alpha, temperature = 0.25, 3.0
  total, student_loss, distill_loss = distillation.distillation_losses(
      y_true, tf.constant(student, tf.float32),
      tf.constant(teacher, tf.float32), alpha, temperature,
      targets.soft_score_loss)
  # By hand: soft cross-entropy against scores / sum(scores) ...
  target = scores[0] / scores[0].sum()
  expected_student = -np.sum(target * np.log(_softmax(student[0])))
  # ... and T^2 * KL(teacher_T || student_T).
  p_teacher = _softmax(teacher[0] / temperature)
  p_student = _softmax(student[0] / temperature)
  expected_kl = temperature ** 2 * np.sum(
      p_teacher * np.log(p_teacher / p_student))
  assert student_loss.numpy()[0] == pytest.approx(expected_student, rel=1e-5)
  assert distill_loss.numpy()[0] == pytest.approx(expected_kl, rel=1e-5)
  assert total.numpy()[0] == pytest.approx(
      alpha * expected_student + (1 - alpha) * expected_kl, rel=1e-5)
  assert expected_kl > 0


def test_alpha_one_ignores_the_teacher():
  y_true = targets.pack(tf.constant([1]), tf.constant([[0.0, 1.0]]))
  logits = tf.constant([[0.1, 0.2]])
  total, _, distill_loss = distillation.distillation_losses(
      y_true, logits, None, 1.0, 4.0, targets.softmax_label_loss)
  assert distill_loss.numpy()[0] == 0
  assert total.numpy()[0] == pytest.approx(math.log(1 + math.exp(-0.1)),
                                           rel=1e-5)


def test_the_teacher_is_untouched_by_on_the_fly_distillation(
    tiny_records, tiny_teacher, tmp_path):
  config = tiny_distill_config(tiny_records, tiny_teacher, tmp_path / 's',
                               teacher_logits='on-the-fly', steps_per_epoch=4)
  spec = distill.input_pipeline.read_data_spec(tiny_records)
  distiller, student = distill.build_distiller(config, spec, 4)
  teacher_weights = [w.copy() for w in
                     model_io.load_model(tiny_teacher).model.get_weights()]
  train_data, _ = distill._datasets(config, spec, 16)  # pylint: disable=protected-access
  before = [w.copy() for w in student.get_weights()]
  history = distiller.fit(train_data, epochs=1, steps_per_epoch=4, verbose=0)
  assert history.history['distillation_loss'][0] > 0
  assert any(not np.array_equal(a, b)
             for a, b in zip(before, student.get_weights()))
  # Nothing of the teacher is trainable through or saved with the distiller.
  assert len(distiller.trainable_variables) == len(
      student.trainable_variables)
  # The teacher on disk gives the same weights as before distillation ran.
  after = model_io.load_model(tiny_teacher).model.get_weights()
  assert all(np.array_equal(a, b) for a, b in zip(teacher_weights, after))


def test_the_teacher_weights_in_memory_do_not_change(tiny_records,
                                                     tiny_teacher):
  teacher = model_io.load_model(tiny_teacher).model
  student = student_lib.build_student(
      dataclasses.replace(TINY_STUDENT, vocabulary='full'), 30522, len(
      json.load(open(os.path.join(tiny_records, 'answers.json')))['answers']),
                                      16, 32)
  distiller = distillation.Distiller(student, teacher, alpha=0.0,
                                     temperature=2.0)
  distiller.compile(optimizer=tf.keras.optimizers.Adam(0.1))
  spec = distill.input_pipeline.read_data_spec(tiny_records)
  data = distill.input_pipeline.make_dataset(spec, 'train2014', 8,
                                             training=True, deterministic=True)
  before = [w.copy() for w in teacher.get_weights()]
  distiller.fit(data, epochs=1, steps_per_epoch=3, verbose=0)
  assert all(np.array_equal(a, b)
             for a, b in zip(before, teacher.get_weights()))


def test_precomputed_logits_train_the_same_student(tiny_records, tiny_teacher,
                                                    tmp_path):
  results = {}
  for mode in distill_config.TEACHER_LOGITS_MODES:
    config = tiny_distill_config(tiny_records, tiny_teacher, tmp_path / mode,
                                 teacher_logits=mode, epochs=2,
                                 steps_per_epoch=3, alpha=0.3)
    summary = distill.distill(config)
    results[mode] = (summary['history'],
                     model_io.load_model(config.output).model.get_weights())
  (history_a, weights_a), (history_b, weights_b) = results.values()
  np.testing.assert_allclose(history_a['distillation_loss'],
                             history_b['distillation_loss'], rtol=1e-4)
  for a, b in zip(weights_a, weights_b):
    np.testing.assert_allclose(a, b, atol=1e-4)
  side_file = tmp_path / 'precompute' / teacher_logits.LOGITS_DIR
  assert (side_file / 'train2014.tfrecord.gz').exists()


def test_side_file_round_trips_and_is_reused(tiny_records, tiny_teacher,
                                             tmp_path):
  shared = tmp_path / 'logits'
  config = tiny_distill_config(tiny_records, tiny_teacher, tmp_path / 'a',
                               teacher_logits_dir=str(shared))
  spec = distill.input_pipeline.read_data_spec(tiny_records)
  table = teacher_logits.teacher_logits_table(config, spec, 16)
  ids, logits = teacher_logits.read_teacher_logits(
      str(shared / 'train2014.tfrecord.gz'), spec.num_answers)
  np.testing.assert_array_equal(np.sort(ids), np.sort(table.rows[0]))
  assert logits.shape == (len(ids), spec.num_answers)
  written = os.path.getmtime(shared / 'train2014.tfrecord.gz')
  teacher_logits.teacher_logits_table(config, spec, 16)
  assert os.path.getmtime(shared / 'train2014.tfrecord.gz') == written


def test_student_without_teacher_is_saved_exported_and_evaluated(
    tiny_records, tmp_path):
  output = tmp_path / 'student'
  config = tiny_distill_config(tiny_records, '', output, alpha=1.0,
                               steps_per_epoch=3, export=True)
  summary = distill.distill(config)
  assert summary['history']['distillation_loss'] == [0.0]
  loaded = model_io.load_model(str(output))
  assert loaded.architecture == model_io.STUDENT
  assert loaded.model_config == TINY_STUDENT
  assert (output / 'export' / 'saved_model.pb').exists()
  evaluation = evaluate.evaluate(str(output), tiny_records, 'val2014')
  report = evaluation['reports']['model']
  assert report['questions_written'] > 0
  assert 0 <= report['vqa_accuracy']['written'] <= 1


def test_distill_requires_a_teacher_unless_alpha_is_one(tiny_records,
                                                        tmp_path, capsys):
  code = cli.main(['distill', '--data', tiny_records, '--output',
                   str(tmp_path / 's'), '--alpha', '0.5'])
  assert code == 2
  assert '--teacher is required' in capsys.readouterr().err


@pytest.mark.parametrize('architecture, job, refused', [
    (model_io.STUDENT, 'DistillConfig', "architecture 'student'"),
    (model_io.TEACHER, prune.PruneConfig.__name__, 'written by `vqa prune`'),
])
def test_distill_refuses_a_student_or_pruned_teacher(
    tiny_records, tmp_path, capsys, architecture, job, refused):
  teacher = tmp_path / 'not_a_teacher'
  teacher.mkdir()
  answers = model_io.read_json(record_spec.answers_path(tiny_records))
  model_io.write_json({'architecture': architecture, 'job': job,
                       'answers': answers['answers'],
                       'max_question_tokens': 16, 'image_size': 32,
                       'model': {}}, str(teacher / model_io.CONFIG_FILE))
  code = cli.main(['distill', '--teacher', str(teacher), '--data',
                   tiny_records, '--output', str(tmp_path / 's')])
  err = capsys.readouterr().err
  assert code == 2
  assert refused in err and str(teacher) in err
  assert not (tmp_path / 's').exists()


def test_config_file_sets_fields_and_flags_override_it(tmp_path):
  path = tmp_path / 'best.json'
  path.write_text(json.dumps({'alpha': 0.4, 'temperature': 7.5,
                              'student': {'text_width': 32}}))
  argv = ['--data', 'd/', '--output', 'o', '--config', str(path),
          '--temperature', '2']
  config = cli.job_config('distill', argv)
  assert config.alpha == 0.4 and config.temperature == 2.0
  assert config.student.text_width == 32 and config.data == 'd'
  assert config.student.embedding_dim == student_lib.StudentConfig(
  ).embedding_dim


@pytest.mark.slow
def test_lstm_student_distils(tiny_records, tiny_teacher, tmp_path):
  student = student_lib.StudentConfig(text_layer='lstm', embedding_dim=8,
                                      text_width=8, image_filters=(8,),
                                      fusion_width=8, hidden_width=8)
  config = tiny_distill_config(tiny_records, tiny_teacher, tmp_path / 's',
                               student=student, steps_per_epoch=2)
  summary = distill.distill(config)
  assert np.isfinite(summary['val']['loss'])
  assert model_io.load_model(config.output).model_config == student


def test_a_damaged_side_file_is_named_not_used(tiny_records, tiny_teacher,
                                               tmp_path):
  shared = tmp_path / 'logits'
  config = tiny_distill_config(tiny_records, tiny_teacher, tmp_path / 'a',
                               teacher_logits_dir=str(shared))
  spec = distill.input_pipeline.read_data_spec(tiny_records)
  teacher_logits.teacher_logits_table(config, spec, 16)
  side_file = shared / 'train2014.tfrecord.gz'
  side_file.write_bytes(side_file.read_bytes()[:300])
  with pytest.raises(ValueError, match='train2014.tfrecord.gz: unreadable'):
    teacher_logits.teacher_logits_table(config, spec, 16)


def test_a_malformed_config_file_is_named(tmp_path, capsys):
  path = tmp_path / 'best.json'
  path.write_text('{"alpha": 0.4,')
  code = cli.main(['distill', '--data', 'd', '--output', 'o', '--config',
                   str(path)])
  assert code == 2
  assert f'{path}: not valid JSON' in capsys.readouterr().err


@pytest.fixture(scope='module')
def records_with_test_split(tmp_path_factory):
  """The tiny records (same train and val content) plus an unlabelled
  test2015 split."""
  from beam_pipelines import preprocess  # pylint: disable=g-import-not-at-top
  from beam_pipelines import sample_data  # pylint: disable=g-import-not-at-top
  raw = str(tmp_path_factory.mktemp('raw_test'))
  splits = ('train2014', 'val2014', 'test2015')
  sample_data.generate(raw, presets.job_config(
      'tiny', 'sample-data', sample_data.SampleDataConfig, splits=splits))
  output = str(tmp_path_factory.mktemp('records_test'))
  preprocess.run_preprocess(presets.job_config(
      'tiny', 'preprocess', preprocess.PreprocessConfig, data_dir=raw,
      output=output, splits=splits), ['--direct_running_mode=in_memory'])
  return output


def _question_ids(spec, split, drop_labelless):
  dataset = distill.input_pipeline.make_dataset(
      spec, split, 64, training=False, for_keras=False,
      drop_labelless=drop_labelless, decode_images=False)
  return {int(i) for batch in dataset for i in batch['question_id'].numpy()}


def test_training_keeps_unannotated_questions_and_drops_unlabelled_ones(
    records_with_test_split):
  spec = distill.input_pipeline.read_data_spec(records_with_test_split)
  counts = spec.metadata.counts
  test_ids = _question_ids(spec, 'test2015', drop_labelless=True)
  assert len(test_ids) == counts['test2015']['written'] > 0
  # Annotated questions whose answers are all outside the vocabulary go.
  val_all = _question_ids(spec, 'val2014', drop_labelless=False)
  val_kept = _question_ids(spec, 'val2014', drop_labelless=True)
  outside = counts['val2014']['events'].get(
      'written_with_label_outside_vocabulary', 0)
  assert outside > 0
  assert len(val_all) - len(val_kept) == outside
  both = _question_ids(spec, ('train2014', 'test2015'), drop_labelless=True)
  assert test_ids < both and len(both) == (
      counts['train2014']['written'] + len(test_ids))


def test_an_unannotated_question_is_learnt_from_the_teacher_alone():
  unannotated = targets.pack(tf.constant([-1]), tf.zeros([1, 3]))
  teacher = tf.constant([[2.0, 0.0, -1.0]])
  student = tf.constant([[0.5, 1.0, 0.0]])
  for loss_fn in targets.LOSSES.values():
    total, student_loss, distill_loss = distillation.distillation_losses(
        unannotated, student, teacher, 0.25, 2.0, loss_fn)
    assert student_loss.numpy()[0] == 0
    assert distill_loss.numpy()[0] > 0
    assert total.numpy()[0] == pytest.approx(0.75 * distill_loss.numpy()[0])


def test_distillation_adds_the_unlabelled_split(records_with_test_split,
                                                tiny_teacher, tmp_path):
  config = tiny_distill_config(records_with_test_split, tiny_teacher,
                               tmp_path / 's', unlabelled_splits=('test2015',))
  assert config.training_splits == ('train2014', 'test2015')
  summary = distill.distill(config)
  assert summary['training_splits'] == ['train2014', 'test2015']
  spec = distill.input_pipeline.read_data_spec(records_with_test_split)
  counts = spec.metadata.counts
  written = counts['train2014']['written'] + counts['test2015']['written']
  assert fit_setup.steps_per_epoch(config, spec, 16,
                                   config.training_splits) == (
                                       math.ceil(written / 16))
  ids, _ = teacher_logits.read_teacher_logits(
      str(tmp_path / 's' / teacher_logits.LOGITS_DIR /
          'train2014.tfrecord.gz'),
      spec.num_answers)
  assert len(set(ids.tolist())) == written
  assert _question_ids(spec, 'test2015', True) <= set(ids.tolist())
  # Without a teacher the unlabelled split has nothing to teach.
  alone = dataclasses.replace(config, alpha=1.0)
  assert alone.training_splits == ('train2014',)


@pytest.mark.parametrize('split, message', [
    ('val2014', 'has annotations'), ('test-dev2015', 'not in')])
def test_unlabelled_splits_are_checked(records_with_test_split, tiny_teacher,
                                       tmp_path, split, message):
  config = tiny_distill_config(records_with_test_split, tiny_teacher,
                               tmp_path / 's', unlabelled_splits=(split,))
  with pytest.raises(ValueError, match=message):
    distill.distill(config)


def test_unlabelled_splits_flag_is_a_comma_list():
  argv = ['--data', 'd', '--output', 'o', '--teacher', 't',
          '--unlabelled-splits', 'test2015, test-dev2015']
  config = cli.job_config('distill', argv)
  assert config.unlabelled_splits == ('test2015', 'test-dev2015')


def test_training_accuracy_counts_labelled_questions_only():
  inputs = tf.keras.Input((2,), name='x')
  student = tf.keras.Model({'x': inputs},
                           tf.keras.layers.Dense(2, use_bias=False)(inputs))
  student.set_weights([np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)])
  distiller = distillation.Distiller(student, alpha=0.5, temperature=1.0)
  distillation.compile_distiller(distiller, 0.0)  # no update: logits stay x
  batch = {'x': tf.constant([[3.0, 0.0], [3.0, 0.0]]),
           distillation.TEACHER_LOGITS: tf.constant([[0.0, 3.0], [0.0, 3.0]])}
  # The labelled question is answered right; the unlabelled one has no
  # targets and must not count as a wrong answer.
  y_true = targets.pack(tf.constant([0, -1]),
                        tf.constant([[1.0, 0.0], [0.0, 0.0]]))
  metrics = distiller.train_step((batch, y_true))
  assert float(metrics['vqa_accuracy']) == 1.0
  assert float(metrics['top1_accuracy']) == 1.0
  assert float(metrics['distillation_loss']) > 0


@pytest.mark.parametrize('image_size, convolutions', [
    (32, (32, 64, 128)), (64, (32, 64, 128)), (96, (32, 64, 128, 128)),
    (224, (32, 64, 128, 128, 128))])
def test_the_student_adds_strided_convolutions_while_the_map_stays_12_wide(
    image_size, convolutions):
  config = student_lib.StudentConfig()
  assert config.image_convolutions(image_size) == convolutions
  assert student_lib.StudentConfig(image_min_map=0).image_convolutions(
      image_size) == config.image_filters


def test_the_built_student_has_the_convolutions_its_choice_names():
  config = dataclasses.replace(TINY_STUDENT, vocabulary='full',
                               image_filters=(4, 8))
  model = student_lib.build_student(config, 30522, 5, 16, 96)
  convs = [layer for layer in model.layers
           if layer.name.startswith('image_conv_')]
  assert [layer.filters for layer in convs] == [4, 8, 8, 8]  # 48, 24, 12
  assert convs[-1].output_shape[1:3] == (12, 12)
  choice = defaults.student_image_choice(config, 96)
  assert choice.value == [4, 8, 8, 8] and '12x12' in choice.reason


def _image_layers(model, prefix):
  return [layer for layer in model.layers if layer.name.startswith(prefix)]


@pytest.mark.parametrize('downsampling, pools, strides', [
    ('max-pool', 3, [1, 1, 1, 1]), ('stride', 0, [1, 2, 2, 2])])
def test_the_student_halves_its_map_as_asked(downsampling, pools, strides):
  config = dataclasses.replace(TINY_STUDENT, vocabulary='full',
                               image_filters=(4, 8),
                               image_downsampling=downsampling)
  model = student_lib.build_student(config, 30522, 5, 16, 96)
  assert len(_image_layers(model, 'image_pool_')) == pools
  convs = _image_layers(model, 'image_conv_')
  assert [layer.strides[0] for layer in convs] == strides
  assert convs[-1].output_shape[1:3] == (12, 12)


def test_a_student_saved_before_max_pooling_loads_with_strides(
    tiny_records, tmp_path):
  output = tmp_path / 'strided'
  distill.distill(tiny_distill_config(
      tiny_records, '', output, alpha=1.0, epochs=1, steps_per_epoch=1,
      student=dict(image_downsampling='stride')))
  expected = model_io.load_model(str(output)).model
  path = output / model_io.CONFIG_FILE
  values = json.loads(path.read_text())
  del values['model']['image_downsampling']  # a config.json from before
  path.write_text(json.dumps(values))
  model = model_io.load_model(str(output)).model
  assert not _image_layers(model, 'image_pool_')
  rng = np.random.default_rng(0)
  inputs = {}
  for tensor in model.inputs:
    shape = (2,) + tuple(tensor.shape[1:])
    inputs[tensor.name] = (rng.integers(0, 255, shape, dtype=np.uint8)
                           if tensor.name == 'image' else
                           np.ones(shape, np.int32))
  np.testing.assert_allclose(model(inputs, training=False),
                             expected(inputs, training=False), rtol=1e-5)


def test_a_student_saved_before_the_map_rule_loads_as_it_was_built(
    tiny_records, tmp_path):
  output = tmp_path / 'one_conv'
  distill.distill(tiny_distill_config(
      tiny_records, '', output, alpha=1.0, epochs=1, steps_per_epoch=1,
      student=dict(image_filters=(8,), image_min_map=0)))
  # The rule would add a convolution at 32 px (a 32x32 map halves to 16x16):
  assert student_lib.StudentConfig(image_filters=(8,)).image_convolutions(
      32) == (8, 8)
  path = output / model_io.CONFIG_FILE
  values = json.loads(path.read_text())
  del values['model']['image_min_map']  # a config.json from before the rule
  path.write_text(json.dumps(values))
  model = model_io.load_model(str(output)).model
  assert [layer.name for layer in model.layers
          if layer.name.startswith('image_conv_')] == ['image_conv_0']
