"""`vqa export-tflite`: a model converted to TFLite, measured with the
interpreter.

  vqa export-tflite --model MODEL_DIR --data OUT [--quantize int8]
      [--split val2014] [--representative-examples 200] [--output DIR]

Writes MODEL_DIR/tflite/model-{quantize}.tflite (trainer/serve/tflite_export.py
converts it) and, next to it, model-{quantize}.json: its raw and gzip sizes,
the size of the Keras weights and the official VQA accuracy on --split
measured with the TFLite interpreter (LiteRT). --quantize none | dynamic |
int8: see trainer/serve/tflite_export.py.

Also writes a LiteRT bundle (default MODEL_DIR/tflite/bundle-{quantize}, or
--output DIR): the .tflite, tokenizer.json, the answers and a README, which
`vqa predict --tflite DIR` runs without TensorFlow.
"""
import dataclasses

from trainer.serve import tflite_modes


@dataclasses.dataclass(frozen=True)
class ExportTFLiteConfig:
  """A `vqa export-tflite` job."""
  model_dir: str = dataclasses.field(default='', metadata={
      'flag': '--model', 'metavar': 'MODEL_DIR',
      'required': True, 'help': 'the trained model to convert'})
  data: str = dataclasses.field(default='', metadata={
      'required': True, 'help': 'the `vqa preprocess` output'})
  quantize: str = dataclasses.field(default='int8', metadata={
      'choices': tflite_modes.QUANTIZE_MODES})
  split: str = dataclasses.field(default='val2014', metadata={
      'help': 'split to measure VQA accuracy on'})
  representative_examples: int = dataclasses.field(default=200, metadata={
      'help': 'int8 calibration questions (training split)'})
  output: str = dataclasses.field(default='', metadata={
      'metavar': 'DIR', 'folder': True,
      'help': 'the LiteRT bundle folder written (default: '
              'MODEL_DIR/tflite/bundle-QUANTIZE)'})
