"""`vqa evaluate`: the official VQA accuracy of a trained model on a split.

  vqa evaluate --model MODEL_DIR --data OUT --split val2014
      [--results results.json] [--question-only-model Q_DIR]

Reports, for the model and the baselines (majority answer; the question-only
model when given): VQA accuracy overall and per answer type, top-1 label
accuracy, the number of questions and examples/s. VQA accuracy is given on
three populations, so that the answer-vocabulary filter fools nobody:
  kept      questions whose most common answer is in the vocabulary;
  written   every question written for the split (the official rule: a
            question whose answers are all outside the vocabulary scores 0);
  all       every question of the split's input files, counting the ones
            rejected or filtered by preprocessing as 0.
`--results` writes predictions in the official results format
[{"question_id": int, "answer": str}].
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import tensorflow as tf

from trainer import input_pipeline
from trainer import model_io

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


def predict_split(model, spec, split, batch_size, uses_image=True):
  """Runs a Keras `model` over a split; returns per-question arrays and ex/s."""
  logits_of = tf.function(lambda inputs: model(inputs, training=False))
  return collect_predictions(lambda inputs: logits_of(inputs).numpy(), spec,
                             split, batch_size, uses_image)


def vqa_scores(arrays, predicted):
  """Per-question official VQA accuracy of `predicted` answer indices."""
  return arrays['scores'][np.arange(len(predicted)), predicted]


def summarize(arrays, predicted, questions_in_split, examples_per_second=None):
  """Accuracy figures for one set of predictions."""
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


def official_results(arrays, predicted, answers):
  """[{"question_id": int, "answer": str}], the official VQA results format."""
  return [{'question_id': int(question_id), 'answer': answers[index]}
          for question_id, index in zip(arrays['question_id'], predicted)]


def questions_in_split(spec, split):
  """Questions in the split's input files, written or not."""
  return spec.metadata['counts'][split]['questions']


def evaluate_model(model_dir, spec, split, batch_size=64):
  """(report, arrays, predicted) for one trained model on one split."""
  loaded = model_io.load_model(model_dir)
  if tuple(spec.answers) != loaded.answers:
    raise ValueError(f'{model_dir} was trained on another answer vocabulary '
                     f'than {spec.data_dir}/answers.json')
  arrays, rate = predict_split(loaded.model, spec, split, batch_size,
                               loaded.uses_image)
  predicted = arrays['predicted']
  report = summarize(arrays, predicted, questions_in_split(spec, split), rate)
  return report, arrays, predicted


def evaluate(model_dir, data_dir, split, results_path='',
             question_only_dir='', batch_size=64):
  """The full report: model, majority baseline, question-only baseline."""
  spec = input_pipeline.read_data_spec(data_dir)
  report, arrays, predicted = evaluate_model(model_dir, spec, split,
                                             batch_size)
  # answers.json lists the training split's answers most common first.
  majority = np.zeros_like(predicted)
  reports = {'model': report,
             'majority_answer': summarize(arrays, majority,
                                          questions_in_split(spec, split))}
  reports['majority_answer']['answer'] = spec.answers[0]
  if question_only_dir:
    reports['question_only'], _, _ = evaluate_model(
        question_only_dir, spec, split, batch_size)
  if results_path:
    with tf.io.gfile.GFile(results_path, 'w') as f:
      json.dump(official_results(arrays, predicted, spec.answers), f)
  return {'split': split, 'model_dir': model_dir, 'data': data_dir,
          'reports': reports}


def format_report(evaluation):
  lines = [f'{"":<18}{"VQA kept":>9}{"written":>9}{"all":>9}'
           f'{"yes/no":>8}{"number":>8}{"other":>8}{"top-1":>8}{"ex/s":>8}']
  for name, report in evaluation['reports'].items():
    accuracy = report['vqa_accuracy']
    per_type = report['vqa_accuracy_per_answer_type']
    cells = [f'{accuracy["kept"]:9.4f}', f'{accuracy["written"]:9.4f}',
             f'{accuracy["all"]:9.4f}']
    cells += [f'{per_type[t]:8.4f}' if t in per_type else f'{"-":>8}'
              for t in ANSWER_TYPES]
    cells.append(f'{report["top1_accuracy"]:8.4f}')
    rate = report.get('examples_per_second')
    cells.append(f'{rate:8.0f}' if rate else f'{"-":>8}')
    lines.append(f'{name:<18}' + ''.join(cells))
  model = evaluation['reports']['model']
  lines.append(f'{evaluation["split"]}: {model["questions_written"]} questions '
               f'written ({model["questions_kept"]} with an answer in the '
               f'vocabulary) of {model["questions_in_split"]} in the split')
  return '\n'.join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(
      prog='vqa evaluate', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--model', required=True)
  parser.add_argument('--data', required=True)
  parser.add_argument('--split', default='val2014')
  parser.add_argument('--results', default='',
                      help='write predictions in the official format')
  parser.add_argument('--question-only-model', default='')
  parser.add_argument('--batch-size', type=int, default=64)
  parser.add_argument('--output', default='',
                      help='metrics JSON (default MODEL/eval-SPLIT.json)')
  args = parser.parse_args(argv)
  try:
    evaluation = evaluate(args.model, args.data, args.split, args.results,
                          args.question_only_model, args.batch_size)
  except (ValueError, FileNotFoundError, KeyError) as e:
    print(f'vqa evaluate: error: {e}', file=sys.stderr)
    return 2
  output = args.output or os.path.join(args.model, f'eval-{args.split}.json')
  model_io.write_json(evaluation, output)
  print(format_report(evaluation))
  print(f'metrics: {output}' + (f'; results: {args.results}'
                                if args.results else ''))
  return 0


if __name__ == '__main__':
  sys.exit(main())
