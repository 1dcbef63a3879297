"""`vqa predict`: ask the exported model a question about a picture.

  vqa predict --model MODEL_DIR --image photo.jpg --question "What color is the bus?"
  vqa predict --model MODEL_DIR --batch-file questions.jsonl   # {"image": ..., "question": ...} per line

Uses only MODEL_DIR/export (the SavedModel), as a deployment would.
"""
import dataclasses

from trainer.contract import errors


@dataclasses.dataclass(frozen=True)
class PredictConfig:
  """A `vqa predict` job: one question (image + question) or a batch."""
  model_dir: str = dataclasses.field(default='', metadata={
      'flag': '--model', 'metavar': 'MODEL_DIR',
      'required': True, 'help': 'the trained model (its export/ SavedModel)'})
  image: str = dataclasses.field(default='', metadata={
      'metavar': 'FILE',
      'help': 'an image file (JPEG, PNG, GIF, BMP or another format Pillow '
              'reads)'})
  question: str = dataclasses.field(default='', metadata={
      'metavar': 'TEXT', 'help': 'the question about the image'})
  batch: str = dataclasses.field(default='', metadata={
      'flag': '--batch-file', 'deprecated': ('--batch',), 'metavar': 'FILE',
      'help': 'JSONL file of {"image": path, "question": text}'})

  def check(self):
    if bool(self.batch) == bool(self.image and self.question):
      raise errors.UserError('give either --image and --question, or --batch-file')
