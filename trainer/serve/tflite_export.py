"""TFLite conversion and the interpreter that runs the converted model.

`vqa export-tflite` (trainer/measure/tflite_evaluation.py) converts with
this module and measures the file with TFLiteRunner. Quantisation modes:

  none     float32 weights and activations.
  dynamic  dynamic-range quantisation: int8 weights, float activations.
  int8     full-integer quantisation calibrated on --representative-examples
           questions of the model's training split; TFLite builtin int8 ops
           only, but for the last layer (the answer logits), which stays
           float32. Inputs keep their types (int32 token ids and mask, uint8
           pixels) and the output is float32 logits. An int8 output has 256
           levels, and two answers less than a level apart tie: on the demo's
           pruned student 91% of the int8 file's top answers that differed
           from the Keras model's were such ties, and keeping that one layer
           float (3 KB more) took the agreement from 98.4% to 99.35%
           (benchmarks/RESULTS.md, "The int8 output layer").

Only TFLite builtin ops are allowed: a model that needs more (the LSTM student
needs Select TF ops) raises ConversionError instead of silently producing a
file that a plain interpreter cannot run. The .tflite keeps one signature,
'serving_default', whose inputs carry this repository's names
(input_ids, attention_mask, image) and whose output is 'logits' [B, K]. They
run with LiteRT (`ai-edge-litert`, trainer/serve/litert_runner.py), the
successor of the deprecated tf.lite.Interpreter:

  runner = TFLiteRunner('MODEL_DIR/tflite/model-int8.tflite')
  runner.logits({'input_ids': ids, 'attention_mask': mask, 'image': pixels})
"""
import contextlib
import json
import os
import tempfile
import warnings

import tensorflow as tf

from trainer.contract import errors
from trainer.data import input_pipeline
from trainer.models import model_io
from trainer.models import multimodal
from trainer.serve import export
from trainer.serve import litert_bundle
from trainer.serve import litert_runner
from trainer.serve import tflite_modes

QUANTIZE_MODES = tflite_modes.QUANTIZE_MODES
TFLITE_DIR = 'tflite'
SIGNATURE = litert_runner.SIGNATURE
OUTPUT = litert_runner.OUTPUT
MODEL_INPUTS = litert_runner.MODEL_INPUTS
DEFAULT_TRAINING_SPLIT = 'train2014'


class ConversionError(errors.UserError):
  """The model cannot be converted to TFLite as asked."""


def tflite_path(model_dir, quantize):
  """MODEL_DIR/tflite/model-{quantize}.tflite."""
  return os.path.join(model_dir, TFLITE_DIR, f'model-{quantize}.tflite')


def bundle_path(model_dir, quantize):
  """MODEL_DIR/tflite/bundle-{quantize}: the LiteRT bundle's default folder."""
  return os.path.join(model_dir, TFLITE_DIR, f'bundle-{quantize}')


def bundle_beside(path):
  """The bundle `vqa export-tflite` wrote beside FOLDER/model-Q.tflite
  (FOLDER/bundle-Q), None when there is none."""
  name = os.path.basename(path)
  if not (name.startswith('model-') and name.endswith('.tflite')):
    return None
  quantize = name[len('model-'):-len('.tflite')]
  folder = os.path.join(os.path.dirname(path), f'bundle-{quantize}')
  if tf.io.gfile.exists(os.path.join(folder, litert_bundle.BUNDLE_FILE)):
    return folder
  return None


def check_quantize(quantize):
  if quantize not in QUANTIZE_MODES:
    raise errors.UserError(f'--quantize {quantize!r}: one of {QUANTIZE_MODES}')


@contextlib.contextmanager
def _without_interpreter_deprecation_warning():
  """tf.lite.Interpreter warns that it moves to the ai_edge_litert package."""
  with warnings.catch_warnings():
    warnings.filterwarnings(
        'ignore', message=r'\s*Warning: tf.lite.Interpreter is deprecated',
        category=UserWarning)
    yield


# Conversion.


def _serving_function(model):
  """The model as a concrete function named by our inputs, any batch size."""
  signature = multimodal.input_signature(model)
  call = tf.function(lambda inputs: {OUTPUT: model(inputs, training=False)})
  return call.get_concrete_function(signature)


def training_split(loaded):
  """The split the model was trained on, to calibrate int8 with.

  config.json's job config names it (train, distill and prune all have
  train_split); DEFAULT_TRAINING_SPLIT for a config that does not.
  """
  return loaded.saved_config.train_split or DEFAULT_TRAINING_SPLIT


def representative_inputs(spec, split, examples, uses_image):
  """The first `examples` questions of `split`, one input dict [1, ...] each.

  Read before conversion starts (200 images of 224 px hold 30 MB), so that a
  missing split fails as a FileNotFoundError and not inside the converter.
  """
  if examples < 1:
    raise errors.UserError(f'--representative-examples {examples}: int8 '
                     'calibration needs at least one example')
  dataset = input_pipeline.make_dataset(
      spec, split, 1, training=False, deterministic=True, for_keras=False,
      decode_images=uses_image)
  inputs = [{name: tensor.numpy() for name, tensor in
             input_pipeline.to_model_inputs(batch)[0].items()}
            for batch in dataset.take(examples)]
  if not inputs:
    raise errors.UserError(f'{spec.data_dir}: split {split!r} has no examples to '
                     'calibrate int8 quantisation with')
  return inputs


def _configure(converter, quantize, representative):
  """Sets the optimisation and the allowed ops for one quantize mode."""
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
  if quantize in ('dynamic', 'int8'):
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
  if quantize == 'int8':
    converter.representative_dataset = lambda: iter(representative)
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8]


def _int8_with_float_logits(converter):
  """The int8 flatbuffer with the op that writes the output left float.

  TFLite's quantisation debugger calibrates once and quantises the
  calibrated model with a list of tensors whose ops stay float (its
  `denylisted_nodes`); the output tensor's name is read from the calibrated
  model.
  """
  debugger = tf.lite.experimental.QuantizationDebugger(converter=converter)
  calibrated = tf.lite.Interpreter(model_content=debugger.calibrated_model)
  outputs = [details['name'] for details in calibrated.get_output_details()]
  debugger.options = tf.lite.experimental.QuantizationDebugOptions(
      denylisted_nodes=outputs)
  return debugger.get_nondebug_quantized_model()


def conversion_reason(error):
  """The converter's errors in a line: the first sentence of each, once.

  Kept: its 'error:' lines and the 'TF Select ops:' list of ops TFLite
  builtins lack. Its advice (e.g. to enable Select TF ops) is left out: this
  tool allows TFLite builtin ops only.
  """
  reasons = []
  for line in str(error).splitlines():
    if 'error: ' in line:
      reason = line.split('error: ', 1)[1].split('. ', 1)[0].strip()
    elif line.startswith('TF Select ops:'):
      reason = line.strip()
    else:
      continue
    if reason and not reason.startswith('failed while converting') and (
        reason not in reasons):
      reasons.append(reason)
  return '; '.join(reasons) or str(error).strip() or type(error).__name__


def _hint(loaded):
  """What to do instead, for a model known to need more than builtins."""
  if (loaded.architecture == model_io.STUDENT and
      loaded.model_config.text_layer == 'lstm'):
    return (' (the LSTM student needs Select TF ops, which a plain TFLite '
            'interpreter cannot run; distil a student with the cnn text '
            'layer)')
  return ''


def convert(loaded, spec, quantize, representative_examples=200,
            representative_split=None, float_answer_layer=True):
  """The TFLite flatbuffer of a loaded model, with TFLite builtin ops only.

  Args:
    loaded: model_io.LoadedModel (teacher, question-only or student).
    spec: DataSpec of the records; int8 calibrates on its TFRecords.
    quantize: one of QUANTIZE_MODES.
    representative_examples: int8 calibration examples.
    representative_split: their split; default the model's training split.
    float_answer_layer: with int8, keep the layer that writes the logits
      float32 (False: int8 too, as benchmarks/int8_output_layer.py compares).

  Returns:
    The .tflite file's bytes.

  Raises:
    ConversionError: the converter failed (e.g. an op TFLite builtins lack).
  """
  check_quantize(quantize)
  representative = None
  if quantize == 'int8':
    representative = representative_inputs(
        spec, representative_split or training_split(loaded),
        representative_examples, loaded.uses_image)
  function = _serving_function(loaded.model)
  converter = tf.lite.TFLiteConverter.from_concrete_functions(
      [function], loaded.model)
  _configure(converter, quantize, representative)
  try:
    with _without_interpreter_deprecation_warning():  # int8 calibration
      if quantize == 'int8' and float_answer_layer:
        return _int8_with_float_logits(converter)
      return converter.convert()
  except Exception as e:  # the converter's error types are not public API
    raise ConversionError(
        f'{loaded.model_dir}: cannot convert the {loaded.architecture} to '
        f'TFLite ({quantize}) with TFLite builtin ops only: '
        f'{conversion_reason(e)}{_hint(loaded)}') from e


# Running.


def _read_bytes(path):
  if not tf.io.gfile.exists(path):
    raise errors.MissingInput(f'{path}: not found')
  with tf.io.gfile.GFile(path, 'rb') as f:
    return f.read()


class TFLiteRunner(litert_runner.LiteRTRunner):
  """litert_runner.LiteRTRunner, also from a .tflite path (local or gs://)."""

  def __init__(self, model):
    """Loads a model: a .tflite path (local or gs://) or the file's bytes."""
    if isinstance(model, (bytes, bytearray)):
      super().__init__(model)
    else:
      super().__init__(_read_bytes(model), source=model)


# The LiteRT bundle (what it holds: trainer/serve/litert_bundle.py).


def _tokenizer_json(tokenizer_dir):
  """tokenizer.json of the records' tokenizer, made from vocab.txt when the
  folder has none."""
  path = os.path.join(tokenizer_dir, litert_bundle.TOKENIZER_FILE)
  if tf.io.gfile.exists(path):
    return _read_bytes(path).decode('utf-8')
  import tokenizers  # pylint: disable=g-import-not-at-top
  vocab = _read_bytes(os.path.join(tokenizer_dir, 'vocab.txt'))
  with tempfile.TemporaryDirectory() as tmp:
    local = os.path.join(tmp, 'vocab.txt')
    with open(local, 'wb') as f:
      f.write(vocab)
    return tokenizers.BertWordPieceTokenizer(
        local, lowercase=export.lower_case(tokenizer_dir)).to_str()


def _bundle_readme(facts, runner):
  length, size = facts.max_question_tokens, facts.image_size
  inputs = [f'- `input_ids` int32 [B, {length}]: WordPiece ids of '
            '`[CLS] question [SEP]` (tokenizer.json), cut to '
            f'{length} keeping [SEP] last, padded with 0',
            f'- `attention_mask` int32 [B, {length}]: 1 for real tokens']
  if runner.uses_image:
    inputs.append(f'- `image` uint8 [B, {size}, {size}, 3]: RGB, resized '
                  'to a square with antialiased bilinear filtering (Pillow)')
  return '\n'.join([
      '# VQA model, LiteRT bundle', '',
      'Answers a question about a picture with `ai-edge-litert`, '
      '`tokenizers` and Pillow; TensorFlow is not needed.', '',
      '    vqa predict --tflite THIS_FOLDER --image photo.jpg '
      '--question "What color is the bus?"', '',
      f'`{litert_bundle.MODEL_FILE}` ({facts.quantize}), signature '
      f'`{SIGNATURE}`; any batch size B. Inputs:', '', *inputs, '',
      f'Output: `{OUTPUT}` float32 [B, {len(facts.answers)}]; softmax for '
      f'probabilities, the answers in order in `{litert_bundle.BUNDLE_FILE}`'
      ' ("answers"). A student with a compact vocabulary maps the full '
      'WordPiece ids to its own inside the model, so feed the ids '
      'tokenizer.json gives.', '',
      '    from ai_edge_litert.interpreter import Interpreter',
      f'    runner = Interpreter(model_path="{litert_bundle.MODEL_FILE}")'
      f'.get_signature_runner("{SIGNATURE}")',
      '    logits = runner(input_ids=ids, attention_mask=mask, '
      'image=pixels)["logits"]', ''])


def write_bundle(loaded, content, quantize, bundle_dir):
  """Writes the LiteRT bundle of a converted model; returns its files."""
  runner = TFLiteRunner(content)
  facts = litert_bundle.BundleFacts(
      answers=tuple(loaded.answers), image_size=loaded.image_size,
      max_question_tokens=loaded.max_question_tokens, quantize=quantize,
      source_model=loaded.model_dir)
  files = {
      litert_bundle.MODEL_FILE: content,
      litert_bundle.TOKENIZER_FILE: _tokenizer_json(loaded.tokenizer_dir),
      litert_bundle.BUNDLE_FILE: json.dumps(facts.to_json(), indent=2),
      litert_bundle.README_FILE: _bundle_readme(facts, runner),
  }
  paths = []
  for name, data in files.items():
    paths.append(os.path.join(bundle_dir, name))
    model_io.write_file(data, paths[-1])
  return paths


def model_dir_of(path):
  """MODEL_DIR when `path` is MODEL_DIR/tflite/*.tflite, else None."""
  folder = os.path.dirname(path)
  model_dir = os.path.dirname(folder)
  if os.path.basename(folder) == TFLITE_DIR and (
      tf.io.gfile.exists(os.path.join(model_dir, model_io.CONFIG_FILE))):
    return model_dir
  return None
