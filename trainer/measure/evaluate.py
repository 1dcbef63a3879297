"""The `vqa evaluate` job (its config: evaluate_config.py)."""
import sys
import time

import numpy as np

from trainer.contract import entry_point
from trainer.measure import complete_answers
from trainer.measure import image_check
from trainer.data import input_pipeline
from trainer.models import inference
from trainer.models import model_io
from trainer.measure import results_file
from trainer.measure import split_questions as split_questions_lib
from trainer.contract import vqa_metric
# The job's config, here too for callers of the job.
from trainer.measure.evaluate_config import EvaluateConfig  # pylint: disable=unused-import

ANSWER_TYPES = ('yes/no', 'number', 'other')


def collect_predictions(logits_of, spec, split, batch_size, uses_image=True):
  """Runs `logits_of` over a split; returns per-question arrays and examples/s.

  Args:
    logits_of: maps a batch's model inputs (dict of tensors) to [B, K] logits
      (a tensor or a numpy array): a Keras model, a TFLite interpreter...
    spec: DataSpec of the preprocessed folder.
    split: e.g. 'val2014'.
    batch_size: examples per call of `logits_of`.
    uses_image: False skips JPEG decoding (question-only models).

  Returns:
    ({'question_id', 'answer_type', 'label', 'scores', 'predicted'} arrays,
     examples per second including the input pipeline).
  """
  dataset = input_pipeline.make_dataset(
      spec, split, batch_size, training=False, deterministic=True,
      for_keras=False, decode_images=uses_image)
  columns = {'question_id': [], 'answer_type': [], 'label': [], 'scores': [],
             'predicted': []}
  examples = 0
  start = time.monotonic()
  for batch in dataset:
    inputs, _ = input_pipeline.to_model_inputs(batch)
    logits = np.asarray(logits_of(inputs))
    columns['predicted'].append(np.argmax(logits, axis=-1))
    for name in ('question_id', 'answer_type', 'label', 'scores'):
      columns[name].append(batch[name].numpy())
    examples += int(batch['label'].shape[0])
  seconds = time.monotonic() - start
  arrays = {name: np.concatenate(values) for name, values in columns.items()}
  arrays['answer_type'] = np.array([t.decode() for t in arrays['answer_type']])
  return arrays, examples / max(seconds, 1e-9)


def vqa_scores(arrays, predicted):
  """Per-question official VQA accuracy of `predicted` answer indices."""
  return arrays['scores'][np.arange(len(predicted)), predicted]


def summarize(arrays, predicted, questions_in_split, examples_per_second=None):
  """Accuracy figures for one set of predictions on the records.

  "all" here scores the questions missing from the records as 0 (what
  TFLite and `vqa report` measurements print); `split_report` replaces it
  with the official figure of an answer to every question.
  """
  accuracy = vqa_scores(arrays, predicted)
  kept = arrays['label'] >= 0
  mean = lambda values: float(np.mean(values)) if len(values) else 0.0
  report = {
      'questions_written': int(len(accuracy)),
      'questions_kept': int(kept.sum()),
      'questions_in_split': int(questions_in_split),
      'vqa_accuracy': {
          'kept': mean(accuracy[kept]),
          'written': mean(accuracy),
          'all': float(accuracy.sum() / max(questions_in_split, 1)),
      },
      'vqa_accuracy_per_answer_type': {
          answer_type: mean(accuracy[arrays['answer_type'] == answer_type])
          for answer_type in ANSWER_TYPES
          if (arrays['answer_type'] == answer_type).any()},
      'top1_accuracy': mean((predicted == arrays['label'])[kept]),
  }
  if examples_per_second is not None:
    report['examples_per_second'] = float(examples_per_second)
  return report


def questions_in_split(spec, split):
  """Questions in the split's input files, written or not."""
  return spec.metadata.questions(split)


def record_answers(arrays, predicted, answers):
  """{question id: answer} of the questions in the records."""
  return {int(question_id): answers[index]
          for question_id, index in zip(arrays['question_id'], predicted)}


def split_report(arrays, predicted, split_questions, answers, sources,
                 examples_per_second=None):
  """The report of one set of answers to every question of a split.

  On a labelled split, "all" is the official evaluator's figure for the
  results file of `answers`; "kept" and "written" come from the records. An
  unlabelled split gets counts only.
  """
  questions = len(split_questions.texts)
  if split_questions.labelled:
    report = summarize(arrays, predicted, questions, examples_per_second)
    report['vqa_accuracy']['all'], report['questions_scored'] = (
        vqa_metric.overall_accuracy(answers, split_questions.human_answers))
  else:
    report = {'questions_written': int(len(predicted)),
              'questions_in_split': questions}
    if examples_per_second is not None:
      report['examples_per_second'] = float(examples_per_second)
  report['answered_by'] = complete_answers.count_sources(sources)
  return report


def evaluate_model(model_dir, spec, split, split_questions=None,
                   batch_size=64):
  """(report, per-question arrays of the records, {question id: answer}) of
  one trained model on one split.

  Every question of `split_questions` (default: the split's own questions
  file) gets an answer (see complete_answers); the report counts how each was
  answered.
  """
  if split_questions is None:
    split_questions = split_questions_lib.read_split_questions(spec, split)
  loaded = model_io.load_model(model_dir)
  model_io.check_same_answers(loaded.answers, model_dir, spec.answers,
                              spec.answers_path)
  logits_of = inference.loaded_logits(loaded)
  arrays, rate = collect_predictions(logits_of, spec, split, batch_size,
                                     loaded.uses_image)
  predicted = arrays['predicted']
  answers, sources = complete_answers.complete(
      record_answers(arrays, predicted, spec.answers), split_questions,
      spec.answers[0],
      lambda texts: complete_answers.answers_without_image(loaded, texts,
                                                           batch_size),
      image_free=not loaded.uses_image)
  report = split_report(arrays, predicted, split_questions, answers, sources,
                        rate)
  if split_questions.labelled and loaded.uses_image:
    report['image_check'] = image_check.measure(logits_of, spec, split,
                                                batch_size)
  return report, arrays, answers


def majority_report(arrays, split_questions, spec):
  """The baseline that answers every question with the training split's most
  common answer (answers.json lists it first)."""
  answers, sources = complete_answers.complete({}, split_questions,
                                               spec.answers[0])
  report = split_report(arrays, np.zeros_like(arrays['predicted']),
                        split_questions, answers, sources)
  report['answer'] = spec.answers[0]
  return report


def evaluate(model_dir, data_dir, split, results_path='',
             question_only_dir='', batch_size=64, questions_path='',
             annotations_path=''):
  """The full report: model, majority baseline, question-only baseline.

  Args:
    model_dir: the trained model.
    data_dir: the preprocessed folder.
    split: the split whose records are read, e.g. 'val2014'.
    results_path: write the model's answer to every question here, in the
      official results format, checked as the official evaluator loads it.
    question_only_dir: a question-only model to report as a baseline.
    batch_size: examples per model call.
    questions_path: the questions to answer, instead of the split's own file
      (e.g. test-dev2015's questions with split test2015).
    annotations_path: the human answers, instead of the split's own file.
  """
  spec = input_pipeline.read_data_spec(data_dir)
  split_questions = split_questions_lib.read_split_questions(
      spec, split, questions_path, annotations_path)
  report, arrays, answers = evaluate_model(model_dir, spec, split,
                                           split_questions, batch_size)
  reports = {'model': report}
  if split_questions.labelled:
    reports['majority_answer'] = majority_report(arrays, split_questions, spec)
  if question_only_dir:
    reports['question_only'], _, _ = evaluate_model(
        question_only_dir, spec, split, split_questions, batch_size)
  if results_path:
    results_file.write_results(results_file.official_results(answers),
                               split_questions.answered_ids, results_path)
  without_annotation, without_question = (
      split_questions_lib.annotation_mismatch(split_questions)
      if split_questions.labelled else ([], []))
  return {'split': split, 'model_dir': model_dir, 'data': data_dir,
          'questions_file': split_questions.questions_path,
          'annotations_file': split_questions.annotations_path,
          'results_file': results_path,
          'duplicate_question_ids': split_questions.duplicate_ids,
          'question_records_without_id': split_questions.records_without_id,
          'questions_without_annotation': len(without_annotation),
          'questions_without_annotation_ids': without_annotation,
          'annotations_without_question': len(without_question),
          'annotations_without_question_ids': without_question,
          'reports': reports}


def _accuracy_row(name, report):
  accuracy = report['vqa_accuracy']
  per_type = report['vqa_accuracy_per_answer_type']
  cells = [f'{accuracy["kept"]:9.4f}', f'{accuracy["written"]:9.4f}',
           f'{accuracy["all"]:9.4f}']
  cells += [f'{per_type[t]:8.4f}' if t in per_type else f'{"-":>8}'
            for t in ANSWER_TYPES]
  cells.append(f'{report["top1_accuracy"]:8.4f}')
  check = report.get('image_check')
  cells.append(f'{check["vqa_accuracy_shuffled_images"]:9.4f}' if check
               else f'{"-":>9}')
  rate = report.get('examples_per_second')
  cells.append(f'{rate:8.0f}' if rate else f'{"-":>8}')
  return f'{name:<18}' + ''.join(cells)


def _answered_by_line(name, report):
  counts = report.get('answered_by')
  if not counts:
    return None
  return f'{name} answered by: ' + ', '.join(
      f'{source} {n}' for source, n in counts.items())


def _some_ids(ids, shown=5):
  more = f', ... ({len(ids)} in all)' if len(ids) > shown else ''
  return ', '.join(str(i) for i in ids[:shown]) + more


def _warnings(evaluation):
  lines = []
  without_annotation = evaluation.get('questions_without_annotation_ids', [])
  without_question = evaluation.get('annotations_without_question_ids', [])
  if without_annotation or without_question:
    parts = []
    if without_annotation:
      parts.append(f'{len(without_annotation)} questions without annotation '
                   f'(ids {_some_ids(without_annotation)}) are not scored and '
                   'not in the results file')
    if without_question:
      parts.append(f'{len(without_question)} annotations without question '
                   f'(ids {_some_ids(without_question)}) are scored with the '
                   'most common answer and in the results file')
    lines.append(
        f'warning: {evaluation["questions_file"]} and '
        f'{evaluation["annotations_file"]} disagree: ' + '; '.join(parts) +
        ' (the official evaluator, VQA.loadRes, loads a results file only '
        'when it answers exactly the annotated question ids); "all" covers '
        'the annotated questions')
  if evaluation.get('question_records_without_id'):
    lines.append(f'warning: {evaluation["questions_file"]}: '
                 f'{evaluation["question_records_without_id"]} question '
                 'records without an integer question_id cannot be answered')
  return lines


def format_report(evaluation):
  model = evaluation['reports']['model']
  lines = []
  if 'vqa_accuracy' in model:
    lines.append(f'{"":<18}{"VQA kept":>9}{"written":>9}{"all":>9}'
                 f'{"yes/no":>8}{"number":>8}{"other":>8}{"top-1":>8}'
                 f'{"shuffled":>9}{"ex/s":>8}')
    lines += [_accuracy_row(name, report)
              for name, report in evaluation['reports'].items()
              if 'vqa_accuracy' in report]
    lines.append(f'{evaluation["split"]}: {model["questions_written"]} '
                 f'questions written ({model["questions_kept"]} with an answer '
                 f'in the vocabulary) of {model["questions_in_split"]} in the '
                 'split')
    if model.get('image_check'):
      lines.append(image_check.describe(model['image_check']) +
                   ' ("shuffled": written questions, images moved)')
      lines += [line for line in [image_check.warning(model['image_check'])]
                if line]
  else:
    lines.append(f'{evaluation["split"]}: no annotations, no accuracy; '
                 f'{model["questions_written"]} questions written of '
                 f'{model["questions_in_split"]} in the questions file')
  lines += [line for line in (_answered_by_line(name, report) for name, report
                              in evaluation['reports'].items()) if line]
  return '\n'.join(lines + _warnings(evaluation))


def run(config):
  """Evaluates as `config` says and writes the metrics JSON; returns them."""
  evaluation = evaluate(config.model, config.data, config.split,
                        config.results, config.question_only_model,
                        config.batch_size, config.questions,
                        config.annotations)
  model_io.write_json(evaluation, config.metrics_path)
  return evaluation


if __name__ == '__main__':
  sys.exit(entry_point.refuse_direct_run('evaluate', 'trainer.measure.evaluate'))
