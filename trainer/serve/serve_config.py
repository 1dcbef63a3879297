"""`vqa serve`: ask the exported models a question in a browser, side by side.

  vqa serve --models teacher=T_DIR student=S_DIR pruned-int8=FILE.tflite
      [--data OUT --split val2014] [--host 127.0.0.1] [--port 8080]

Each NAME=PATH is a MODEL_DIR, served from its SavedModel (MODEL_DIR/export,
as `vqa predict` runs it), or a .tflite file run with the TFLite interpreter:
the artefacts a deployment uses, not the Keras training objects. With --data
the page also offers the first --page-questions questions of --split (any split of
the folder can be asked for), with their images and ground-truth answers.

The page (/) uploads an image or picks a split question, and shows each
model's top five answers, their probabilities and its latency. Beside it, a
JSON API:

  POST /api/answer     multipart: question, and image (a file) or
                       split + question_id; answers of every model
  GET  /api/info       the models, splits and upload limits
  GET  /api/questions  ?split=&limit=  a split's questions (needs --data)
  GET  /api/image      ?split=&question_id=  a split question's JPEG

It listens on loopback unless --host says otherwise (then it warns: there is
no authentication). Uploads above --max-upload-mb or --max-megapixels, and
files that are not images, are refused with a message the page shows.
"""
import dataclasses

from trainer.models import model_specs


def mib_to_bytes(mib):
  return int(mib * 2**20)


def megapixels_to_pixels(megapixels):
  return int(megapixels * 1e6)


@dataclasses.dataclass(frozen=True)
class UploadLimits:
  """The largest image upload served; the flags give MiB and megapixels."""
  max_upload_bytes: int = dataclasses.field(default=10 * 2**20, metadata={
      'flag': '--max-upload-mb', 'type': float, 'parse': mib_to_bytes,
      'help': 'largest image upload, in MiB (default 10)'})
  max_pixels: int = dataclasses.field(default=25_000_000, metadata={
      'flag': '--max-megapixels', 'type': float, 'parse': megapixels_to_pixels,
      'help': 'largest image upload, in millions of pixels (default 25)'})


def parse_served_models(entries):
  """--models NAME=PATH entries; each backend names a missing model when it
  loads it."""
  return model_specs.parse_model_specs(
      entries, 'a MODEL_DIR with an export/ folder, or a .tflite file',
      must_exist=False)


@dataclasses.dataclass(frozen=True)
class ServeConfig:
  """A `vqa serve` job."""
  # ((name, path), ...) in the order given
  models: tuple = dataclasses.field(default=(), metadata={
      'required': True, 'nargs': '+', 'metavar': 'NAME=PATH',
      'parse': parse_served_models,
      'help': 'MODEL_DIR (served from MODEL_DIR/export) or a .tflite file, '
              'one per model'})
  data: str = dataclasses.field(default='', metadata={
      'help': '`vqa preprocess` output: split questions to pick (and the '
              'tokenizer of a .tflite outside a MODEL_DIR)'})
  split: str = dataclasses.field(default='val2014', metadata={
      'help': 'the split offered first (with --data)'})
  questions: int = dataclasses.field(default=100, metadata={
      'flag': '--page-questions', 'deprecated': ('--questions',),
      'metavar': 'N', 'help': 'questions of a split listed on the page'})
  host: str = dataclasses.field(default='127.0.0.1', metadata={
      'help': 'address to listen on (the default is loopback only)'})
  port: int = 8080
  limits: UploadLimits = UploadLimits()
