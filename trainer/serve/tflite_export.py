"""TFLite conversion and the interpreter that runs the converted model.

`vqa export-tflite` (trainer/measure/tflite_evaluation.py) converts with
this module and measures the file with TFLiteRunner. Quantisation modes:

  none     float32 weights and activations.
  dynamic  dynamic-range quantisation: int8 weights, float activations.
  int8     full-integer quantisation calibrated on --representative-examples
           questions of the model's training split; TFLite builtin int8 ops
           only. Inputs keep their types (int32 token ids and mask, uint8
           pixels) and the output stays float32 logits: the converter adds
           the dequantisation of the int8 logits at the end of the graph.

Only TFLite builtin ops are allowed: a model that needs more (the LSTM student
needs Select TF ops) raises ConversionError instead of silently producing a
file that a plain interpreter cannot run. The .tflite keeps one signature,
'serving_default', whose inputs carry this repository's names
(input_ids, attention_mask, image) and whose output is 'logits' [B, K]:

  runner = TFLiteRunner('MODEL_DIR/tflite/model-int8.tflite')
  runner.logits({'input_ids': ids, 'attention_mask': mask, 'image': pixels})
"""
import contextlib
import os
import warnings

import numpy as np
import tensorflow as tf

from trainer.contract import errors
from trainer.data import input_pipeline
from trainer.models import model_io
from trainer.models import multimodal
from trainer.serve import tflite_modes

QUANTIZE_MODES = tflite_modes.QUANTIZE_MODES
TFLITE_DIR = 'tflite'
SIGNATURE = 'serving_default'
OUTPUT = 'logits'
MODEL_INPUTS = (input_pipeline.INPUT_IDS, input_pipeline.ATTENTION_MASK,
                input_pipeline.IMAGE)
DEFAULT_TRAINING_SPLIT = 'train2014'


class ConversionError(errors.UserError):
  """The model cannot be converted to TFLite as asked."""


def tflite_path(model_dir, quantize):
  """MODEL_DIR/tflite/model-{quantize}.tflite."""
  return os.path.join(model_dir, TFLITE_DIR, f'model-{quantize}.tflite')


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
            representative_split=None):
  """The TFLite flatbuffer of a loaded model, with TFLite builtin ops only.

  Args:
    loaded: model_io.LoadedModel (teacher, question-only or student).
    spec: DataSpec of the records; int8 calibrates on its TFRecords.
    quantize: one of QUANTIZE_MODES.
    representative_examples: int8 calibration examples.
    representative_split: their split; default the model's training split.

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


class TFLiteRunner:
  """Runs a .tflite VQA model by our input names, at any batch size.

  Uses the 'serving_default' signature, which keeps the input names the
  model was converted with (the interpreter's tensor names are mangled, e.g.
  'serving_default_input_ids:0'). The signature runner resizes the inputs and
  re-allocates the tensors when the batch size changes, and does nothing more
  when it does not.

  Attributes:
    input_names: the model's inputs, of input_ids, attention_mask, image.
    uses_image: whether `image` is one of them.
    num_answers: K, the width of the logits.
  """

  def __init__(self, model):
    """Loads a model: a .tflite path (local or gs://) or the file's bytes."""
    source = 'the given bytes'
    if not isinstance(model, (bytes, bytearray)):
      source, model = model, _read_bytes(model)
    with _without_interpreter_deprecation_warning():
      self._interpreter = tf.lite.Interpreter(model_content=bytes(model))
    signatures = self._interpreter.get_signature_list()
    if SIGNATURE not in signatures:
      raise errors.UserError(f'{source}: no {SIGNATURE!r} signature (found '
                       f'{sorted(signatures)}); convert it with '
                       '`vqa export-tflite`')
    names = signatures[SIGNATURE]['inputs']
    unknown = set(names) - set(MODEL_INPUTS)
    if unknown or signatures[SIGNATURE]['outputs'] != [OUTPUT]:
      raise errors.UserError(f'{source}: inputs {names} and outputs '
                       f'{signatures[SIGNATURE]["outputs"]}; expected inputs '
                       f'among {MODEL_INPUTS} and the output {OUTPUT!r}')
    self._runner = self._interpreter.get_signature_runner(SIGNATURE)
    self.input_names = tuple(name for name in MODEL_INPUTS if name in names)
    self.uses_image = input_pipeline.IMAGE in self.input_names
    self._dtypes = {name: details['dtype'] for name, details
                    in self._runner.get_input_details().items()}
    self.num_answers = int(
        self._runner.get_output_details()[OUTPUT]['shape_signature'][-1])

  def logits(self, inputs):
    """[B, K] float32 logits of `inputs` (name -> array [B, ...]).

    Inputs the model does not take (e.g. `image` for the question-only
    model) are ignored; arrays are cast to the model's input types.
    """
    missing = [name for name in self.input_names if name not in inputs]
    if missing:
      raise ValueError(f'missing model inputs {missing}; the model takes '
                       f'{list(self.input_names)}')
    feed = {name: np.asarray(inputs[name], dtype=self._dtypes[name])
            for name in self.input_names}
    return self._runner(**feed)[OUTPUT]


def model_dir_of(path):
  """MODEL_DIR when `path` is MODEL_DIR/tflite/*.tflite, else None."""
  folder = os.path.dirname(path)
  model_dir = os.path.dirname(folder)
  if os.path.basename(folder) == TFLITE_DIR and (
      tf.io.gfile.exists(os.path.join(model_dir, model_io.CONFIG_FILE))):
    return model_dir
  return None
