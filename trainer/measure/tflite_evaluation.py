"""The `vqa export-tflite` job (its config: export_tflite_config.py)."""
import os
import sys

from trainer.contract import entry_point
from trainer.data import input_pipeline
from trainer.measure import evaluate
from trainer.measure import sizes
from trainer.models import model_io
from trainer.serve import tflite_export
# The job's config, here too for callers of the job.
from trainer.measure.export_tflite_config import ExportTFLiteConfig  # pylint: disable=unused-import


def _report_path(path):
  return os.path.splitext(path)[0] + '.json'


def evaluate_tflite(model, spec, split, batch_size=64):
  """Official VQA accuracy of a TFLite model, run with the interpreter.

  Args:
    model: a .tflite path, its bytes or a tflite_export.TFLiteRunner.
    spec: DataSpec of the records.
    split: e.g. 'val2014'.
    batch_size: examples per interpreter call.

  Returns:
    (report as evaluate.summarize, incl. examples_per_second; per-question
     arrays; predicted answer indices).
  """
  runner = (model if isinstance(model, tflite_export.TFLiteRunner)
            else tflite_export.TFLiteRunner(model))
  model_io.check_same_answers(runner.num_answers, 'the TFLite model',
                              spec.answers, spec.answers_path)
  arrays, rate = evaluate.collect_predictions(
      runner.logits, spec, split, batch_size, runner.uses_image)
  predicted = arrays['predicted']
  report = evaluate.summarize(arrays, predicted,
                              evaluate.questions_in_split(spec, split), rate)
  return report, arrays, predicted


def _check_inputs(loaded, spec, split):
  model_io.check_same_answers(loaded.answers, loaded.model_dir, spec.answers,
                              spec.answers_path)
  spec.metadata.check_split(split)


def export_tflite(model_dir, data_dir, quantize='int8', split='val2014',
                  representative_examples=200, bundle_dir=''):
  """Converts MODEL_DIR's model, writes it, its evaluation and its bundle.

  Args:
    model_dir: MODEL_DIR (local or gs://).
    data_dir: the `vqa preprocess` output the model was trained on.
    quantize: one of QUANTIZE_MODES.
    split: the split to measure VQA accuracy on.
    representative_examples: int8 calibration examples (training split).
    bundle_dir: the LiteRT bundle's folder; default
      MODEL_DIR/tflite/bundle-{quantize}.

  Returns:
    What MODEL_DIR/tflite/model-{quantize}.json holds: model_dir, quantize,
    path, raw_bytes, gzip_bytes, keras_weights_bytes, split, report, and
    bundle: its folder and the raw and gzip bytes of its files.
  """
  tflite_export.check_quantize(quantize)
  spec = input_pipeline.read_data_spec(data_dir)
  loaded = model_io.load_model(model_dir)
  _check_inputs(loaded, spec, split)
  content = tflite_export.convert(loaded, spec, quantize, representative_examples)
  path = tflite_export.tflite_path(model_dir, quantize)
  model_io.write_file(content, path)
  bundle_dir = bundle_dir or tflite_export.bundle_path(model_dir, quantize)
  bundle_files = tflite_export.write_bundle(loaded, content, quantize,
                                            bundle_dir)
  report, _, _ = evaluate_tflite(content, spec, split)
  result = dict(
      model_dir=model_dir, quantize=quantize, path=path,
      **sizes.file_sizes([path]),
      keras_weights_bytes=sizes.saved_weights_size(model_dir)['raw_bytes'],
      split=split, report=report,
      bundle=dict(path=bundle_dir, **sizes.file_sizes(bundle_files)))
  model_io.write_json(result, _report_path(path))
  return result


def format_result(result):
  """Size, ratio to the Keras weights and the interpreter's VQA accuracy."""
  ratio = result['raw_bytes'] / max(result['keras_weights_bytes'], 1)
  lines = [
      f'{result["path"]}: {result["raw_bytes"]:,d} bytes '
      f'({result["gzip_bytes"]:,d} gzip), {ratio:.3f}x the Keras weights '
      f'({result["keras_weights_bytes"]:,d} bytes)',
      f'LiteRT bundle (runs without TensorFlow: vqa predict --tflite '
      f'{result["bundle"]["path"]}): {result["bundle"]["raw_bytes"]:,d} bytes '
      f'({result["bundle"]["gzip_bytes"]:,d} gzip)',
      'VQA accuracy measured with the TFLite interpreter '
      f'({result["quantize"]}):',
      evaluate.format_report({'split': result['split'],
                              'reports': {'model': result['report']}}),
      f'metrics: {_report_path(result["path"])}']
  return '\n'.join(lines)


def run(config):
  """export_tflite as `config` says; returns its result."""
  return export_tflite(config.model_dir, config.data, config.quantize,
                       config.split, config.representative_examples,
                       config.output)


if __name__ == '__main__':
  sys.exit(entry_point.refuse_direct_run('export-tflite', 'trainer.measure.tflite_evaluation'))
