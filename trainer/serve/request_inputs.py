"""What a `vqa serve` request brings in, checked before a model sees it: an
uploaded image (size, pixels, format) or a question of a split of the data
folder (an allowed split only, never a path outside the folder)."""
import threading

from trainer.data import input_pipeline
from trainer.data import sample_questions
# The image checks, here too for callers of this module.
from trainer.serve.image_checks import CheckedImage  # pylint: disable=unused-import
from trainer.serve.image_checks import DECODABLE_FORMATS  # pylint: disable=unused-import
from trainer.serve.image_checks import FORM_OVERHEAD_BYTES  # pylint: disable=unused-import
from trainer.serve.image_checks import ImageRefused  # pylint: disable=unused-import
from trainer.serve.image_checks import body_refusal  # pylint: disable=unused-import
from trainer.serve.image_checks import checked_image  # pylint: disable=unused-import
from trainer.serve.serve_config import UploadLimits  # pylint: disable=unused-import
from trainer.serve.serve_config import megapixels_to_pixels  # pylint: disable=unused-import
from trainer.serve.serve_config import mib_to_bytes  # pylint: disable=unused-import

SplitRefused = sample_questions.SplitRefused


class QuestionStore:
  """The first questions of each split asked for, read once and kept."""

  def __init__(self, data_dir, limit):
    self.spec = input_pipeline.read_data_spec(data_dir)
    self.limit = limit
    self._read = {}
    self._lock = threading.Lock()

  def splits(self):
    return self.spec.metadata.splits

  def questions(self, split):
    """[SplitQuestion] of the split; SplitRefused for any other name."""
    sample_questions.checked_split(self.spec, split)
    with self._lock:
      if split not in self._read:
        self._read[split] = sample_questions.read_questions(
            self.spec, split, self.limit)
      return self._read[split]

  def find(self, split, question_id):
    """The SplitQuestion; KeyError (with a message) if it is not listed."""
    for question in self.questions(split):
      if question.question_id == question_id:
        return question
    raise KeyError(f'question {question_id} is not among the first '
                   f'{self.limit} questions of {split}')
