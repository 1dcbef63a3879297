"""`vqa report`: compare models on one split: size, accuracy, latency.

  vqa report --data OUT --split val2014 --output REPORT_DIR
      --models teacher=T_DIR student=S_DIR pruned=P_DIR
               pruned-int8=P_DIR/tflite/model-int8.tflite
      [--baseline teacher] [--latency-batches 1 64] [--latency-repeats 20]

Each NAME=PATH is a MODEL_DIR (a Keras model: teacher, question-only,
student, pruned) or a .tflite file (`vqa export-tflite`). Every model is
measured in this run, on this machine: parameters (non-zero too), the raw and
gzip size of its weights file, the official VQA accuracy (the same code as
`vqa evaluate`) overall and per answer type, top-1 accuracy, and the latency
per example at each --latency-batches size (fixed inputs from the split's
first questions; one warm-up call, then the mean of --latency-repeats calls).
Every figure is also given relative to the baseline model (default: the
first one listed).

Writes REPORT_DIR/report.md, report.json, report.csv, accuracy_vs_size.png
and accuracy_vs_latency.png (the Pareto front drawn as a step line), and
report.html: all of it on one self-contained page (images embedded, opens
offline) with the first --examples questions of the split, their images and
every model's answers.
"""
import dataclasses

from trainer.models import model_specs


@dataclasses.dataclass(frozen=True)
class ReportConfig:
  """A report job; written into REPORT_DIR/report.json."""
  data: str = dataclasses.field(default='', metadata={
      'required': True, 'help': '`vqa preprocess` output'})
  # ((name, path), ...) in the order given
  models: tuple = dataclasses.field(default=(), metadata={
      'required': True, 'nargs': '+', 'metavar': 'NAME=PATH',
      'parse': model_specs.parse_model_specs,
      'help': 'MODEL_DIR or .tflite file, one per model'})
  output: str = dataclasses.field(default='', metadata={
      'required': True, 'metavar': 'DIR', 'help': 'REPORT_DIR written'})
  split: str = dataclasses.field(default='val2014', metadata={
      'help': 'split to measure accuracy and latency on'})
  baseline: str = dataclasses.field(default='', metadata={
      'help': 'NAME of the reference model (default: the first)'})
  latency_batches: tuple = dataclasses.field(default=(1, 64), metadata={
      'metavar': 'B', 'help': 'batch sizes to time'})
  latency_repeats: int = dataclasses.field(default=20, metadata={
      'help': 'timed calls per batch size, after one warm-up'})
  batch_size: int = dataclasses.field(default=64, metadata={
      'help': 'batch size of the accuracy pass'})
  examples: int = dataclasses.field(default=4, metadata={
      'help': "questions of the split shown in report.html with every "
              "model's answers"})

  @property
  def baseline_name(self):
    return self.baseline or self.models[0][0]
