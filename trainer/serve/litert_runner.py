"""Runs a .tflite VQA model with LiteRT (`ai-edge-litert`), without TensorFlow.

The interpreter that `tf.lite.Interpreter`'s deprecation names as its
successor; it runs the files `vqa export-tflite` writes unchanged. Imports
numpy and ai_edge_litert only, so a LiteRT bundle answers where TensorFlow is
not installed (trainer/serve/litert_bundle.py).

  runner = LiteRTRunner(open('model-int8.tflite', 'rb').read())
  runner.logits({'input_ids': ids, 'attention_mask': mask, 'image': pixels})
"""
import numpy as np

from trainer.contract import errors

SIGNATURE = 'serving_default'
OUTPUT = 'logits'
# The model inputs' names (trainer/data/input_pipeline.py), in input order.
INPUT_IDS = 'input_ids'
ATTENTION_MASK = 'attention_mask'
IMAGE = 'image'
MODEL_INPUTS = (INPUT_IDS, ATTENTION_MASK, IMAGE)


def _interpreter(content):
  try:
    from ai_edge_litert import interpreter  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise errors.MissingPackage(
        'running a .tflite file needs the ai-edge-litert package: pip install '
        'ai-edge-litert==2.3.0 (or the project\'s [litert] extra)') from e
  return interpreter.Interpreter(model_content=bytes(content))


class LiteRTRunner:
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

  def __init__(self, content, source='the given bytes'):
    """Loads a model from the .tflite file's bytes (`source` names them in
    errors)."""
    self._interpreter = _interpreter(content)
    signatures = self._interpreter.get_signature_list()
    if SIGNATURE not in signatures:
      raise errors.UserError(f'{source}: no {SIGNATURE!r} signature (found '
                             f'{sorted(signatures)}); convert it with '
                             '`vqa export-tflite`')
    names = signatures[SIGNATURE]['inputs']
    unknown = set(names) - set(MODEL_INPUTS)
    if unknown or signatures[SIGNATURE]['outputs'] != [OUTPUT]:
      raise errors.UserError(f'{source}: inputs {names} and outputs '
                             f'{signatures[SIGNATURE]["outputs"]}; expected '
                             f'inputs among {MODEL_INPUTS} and the output '
                             f'{OUTPUT!r}')
    self._runner = self._interpreter.get_signature_runner(SIGNATURE)
    self.input_names = tuple(name for name in MODEL_INPUTS if name in names)
    self.uses_image = IMAGE in self.input_names
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
