"""One row of the report per model: sizes, accuracy, the image-branch check
and latency, for a Keras MODEL_DIR or a .tflite file."""
import os

import tensorflow as tf

from trainer.data import sample_questions
from trainer.measure import evaluate
from trainer.measure import image_check
from trainer.measure import latency
from trainer.measure import sizes
from trainer.measure import tables
from trainer.models import inference
from trainer.models import model_io

KERAS = 'keras'
TFLITE = 'tflite'
TFLITE_SUFFIX = '.tflite'
EXAMPLE_TOP_K = 3


def is_tflite(path):
  return path.endswith(TFLITE_SUFFIX)


def check_answers(model_answers, spec, model_path):
  model_io.check_same_answers(model_answers, model_path, spec.answers,
                              spec.answers_path)


# Measuring one model: one row of the table.


def accuracy_figures(evaluation):
  """The row's accuracy columns from an evaluate.summarize() report."""
  per_type = evaluation['vqa_accuracy_per_answer_type']
  figures = {'vqa_written': evaluation['vqa_accuracy']['written'],
             'vqa_kept': evaluation['vqa_accuracy']['kept']}
  for answer_type in evaluate.ANSWER_TYPES:
    figures[tables.answer_type_column(answer_type)] = per_type.get(answer_type)
  figures['top1'] = evaluation['top1_accuracy']
  return figures


def shuffled_images_figure(logits_of, spec, config, uses_image):
  """The image-branch check's accuracy with images moved among the
  questions (None for a model without image)."""
  if not uses_image:
    return {'vqa_shuffled_images': None}
  return {'vqa_shuffled_images': image_check.moved_images_accuracy(
      logits_of, spec, config.split, config.batch_size)}


def float_tflite_bytes(model_dir):
  """Bytes of MODEL_DIR/tflite/model-none.tflite, None if not exported."""
  from trainer.serve import tflite_export  # pylint: disable=g-import-not-at-top
  path = tflite_export.tflite_path(model_dir, 'none')
  return tf.io.gfile.stat(path).length if tf.io.gfile.exists(path) else None


def example_answers(logits_of, examples, uses_image, answers):
  """Each example's top EXAMPLE_TOP_K [(answer, probability)]."""
  if not examples:
    return []
  logits = logits_of(sample_questions.model_inputs(examples, uses_image))
  return sample_questions.top_answers(logits, answers, EXAMPLE_TOP_K)


def latency_with_inputs(answer, repeats):
  """Milliseconds of one `answer()` call (one question from its JPEG and
  text), after one warm-up call; None when `answer` is None."""
  if answer is None:
    return None
  return 1000 * latency.seconds_per_call(lambda unused: answer(), None,
                                         repeats)


def saved_model_answer(model_dir, question):
  """A call answering `question` with MODEL_DIR/export, None without it."""
  from trainer.serve import export  # pylint: disable=g-import-not-at-top
  from trainer.serve import predict  # pylint: disable=g-import-not-at-top
  if question is None or not tf.io.gfile.exists(
      os.path.join(model_dir, export.EXPORT_DIR)):
    return None
  serve = predict.load_serving_function(model_dir)
  return lambda: predict.predict(serve, [(None, question.question)],
                                 [question.image_jpeg])


def bundle_answer(bundle_dir, question):
  """A call answering `question` with a LiteRT bundle, None without one."""
  from trainer.serve import litert_bundle  # pylint: disable=g-import-not-at-top
  if question is None or bundle_dir is None:
    return None
  bundle = litert_bundle.LiteRTBundle(bundle_dir)
  return lambda: bundle.answer([question.image_jpeg], [question.question])


def measure_keras_model(name, model_dir, spec, config, examples=(),
                        question=None):
  """(row, evaluation, example answers) for a MODEL_DIR: sizes, accuracy
  and latency (`question`: a SplitQuestion for the latency with inputs)."""
  loaded = model_io.load_model(model_dir)
  check_answers(loaded.answers, spec, model_dir)
  # Accuracy with each distinct question encoded once (a teacher); latency
  # with the whole model, what answering a new question costs (one trace
  # for both when the model is a student).
  whole = inference.traced(loaded.model)
  logits_of = inference.loaded_logits(loaded, whole)
  arrays, rate = evaluate.collect_predictions(
      logits_of, spec, config.split, config.batch_size, loaded.uses_image)
  evaluation = evaluate.summarize(
      arrays, arrays['predicted'],
      evaluate.questions_in_split(spec, config.split), rate)
  weights = sizes.saved_weights_size(model_dir)
  inputs = latency.latency_inputs(spec, config.split,
                                  max(config.latency_batches),
                                  loaded.uses_image)
  row = dict(model=name, format=KERAS, path=model_dir,
             **sizes.parameter_counts(loaded.model),
             file_bytes=weights['raw_bytes'], gzip_bytes=weights['gzip_bytes'],
             tflite_bytes=float_tflite_bytes(model_dir), bundle_bytes=None,
             **accuracy_figures(evaluation),
             **shuffled_images_figure(logits_of, spec, config,
                                      loaded.uses_image),
             **latency.latency_figures(whole, inputs,
                                       config.latency_batches,
                                       config.latency_repeats),
             ms_with_inputs_b1=latency_with_inputs(
                 saved_model_answer(model_dir, question),
                 config.latency_repeats))
  return row, evaluation, example_answers(logits_of, examples,
                                          loaded.uses_image, spec.answers)


def tflite_parameter_counts(path, spec):
  """Parameter counts of the Keras model whose MODEL_DIR/tflite/ holds `path`.

  A .tflite elsewhere has no Keras model to count: both counts are None
  ('-' in the table). The Keras model's answers are checked on the way.
  """
  from trainer.serve import tflite_export  # pylint: disable=g-import-not-at-top
  model_dir = tflite_export.model_dir_of(path)
  if model_dir is None:
    return {'parameters': None, 'nonzero_parameters': None}
  loaded = model_io.load_model(model_dir)
  check_answers(loaded.answers, spec, path)
  return sizes.parameter_counts(loaded.model)


def measure_tflite_model(name, path, spec, config, examples=(),
                         question=None):
  """(row, evaluation, example answers) for a .tflite file, run with the
  TFLite interpreter (LiteRT), and its bundle when one lies beside it."""
  from trainer.serve import tflite_export  # pylint: disable=g-import-not-at-top
  from trainer.measure import tflite_evaluation  # pylint: disable=g-import-not-at-top
  counts = tflite_parameter_counts(path, spec)
  runner = tflite_export.TFLiteRunner(path)
  # Checks the width of the logits against the answer vocabulary first.
  evaluation, _, _ = tflite_evaluation.evaluate_tflite(
      runner, spec, config.split, batch_size=config.batch_size)
  file_size = sizes.file_sizes([path])
  bundle = tflite_export.bundle_beside(path)
  inputs = latency.latency_inputs(spec, config.split,
                                  max(config.latency_batches),
                                  runner.uses_image)
  row = dict(model=name, format=TFLITE, path=path, **counts,
             file_bytes=file_size['raw_bytes'],
             gzip_bytes=file_size['gzip_bytes'],
             tflite_bytes=file_size['raw_bytes'],
             bundle_bytes=sizes.folder_bytes(bundle) if bundle else None,
             **accuracy_figures(evaluation),
             **shuffled_images_figure(runner.logits, spec, config,
                                      runner.uses_image),
             **latency.latency_figures(runner.logits, inputs,
                                       config.latency_batches,
                                       config.latency_repeats),
             ms_with_inputs_b1=latency_with_inputs(
                 bundle_answer(bundle, question), config.latency_repeats))
  return row, evaluation, example_answers(runner.logits, examples,
                                          runner.uses_image, spec.answers)


def measure_models(config, spec, examples=()):
  """(rows, evaluations, {model: example answers}) for every model, in the
  order given."""
  rows, evaluations, answers = [], {}, {}
  [question] = sample_questions.read_questions(spec, config.split, 1) or [None]
  for name, path in config.models:
    measure = measure_tflite_model if is_tflite(path) else measure_keras_model
    row, evaluations[name], answers[name] = measure(name, path, spec, config,
                                                    examples, question)
    rows.append(row)
  return rows, evaluations, answers
