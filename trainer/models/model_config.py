"""The architectures' settings (teacher, question-only, student), without
TensorFlow: `vqa train --help` and `vqa distill --help` read them."""
import dataclasses
import math

from trainer.contract import bundled
from trainer.contract import errors

# The bundled checkpoint (trainer/models/text_encoder.py converts it).
DEFAULT_TEXT_ENCODER = bundled.BUNDLED_NAME


# MobileNetV2's last activation at each output stride.
MOBILENET_STRIDE_LAYERS = {4: 'block_3_expand_relu', 8: 'block_6_expand_relu',
                           16: 'block_13_expand_relu', 32: 'out_relu'}


AUGMENTATIONS = ('none', 'flip', 'flip-rotate')


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Architecture; all defaults are the real-use teacher."""
  kind: str = dataclasses.field(default='teacher', metadata={
      'flag': '--architecture', 'deprecated': ('--model',),
      'choices': ('teacher', 'question-only'),
      'help': 'the VQA teacher, or the question-only baseline'})
  text_encoder: str = dataclasses.field(
      default=DEFAULT_TEXT_ENCODER, metadata={
          'help': 'bundled all-MiniLM-L6-v2, a local or gs:// directory, a '
                  'hub name, or "tiny" (random, for tests)'})
  text_trainable_layers: int = dataclasses.field(default=0, metadata={
      'help': 'fine-tune the top N BERT layers (0: frozen)'})
  text_pooling: str = dataclasses.field(default='mean', metadata={
      'choices': ('mean', 'pooled')})  # masked mean or [CLS]
  image_weights: str = dataclasses.field(default='imagenet', metadata={
      'help': 'imagenet (downloads), none, or a weights file'})
  image_alpha: float = 1.0  # MobileNetV2 width
  # None: decided by trainer/fit/defaults.py (trained without pretrained
  # weights, frozen over pretrained ones).
  image_trainable: bool = dataclasses.field(default=None, metadata={
      'negative': '--image-frozen',
      'help': 'train MobileNetV2 (default without pretrained weights); '
              '--image-frozen freezes it (default over pretrained weights; '
              'refused without them)'})
  # The records decide it (`vqa train` reads it from their metadata).
  image_size: int = dataclasses.field(default=224, metadata={'cli': False})
  # MobileNetV2 up to the layer at this stride (4, 8, 16 or 32 = the whole
  # network): at 32-64 px the full network's stride 32 leaves a 1x1 map.
  # 0: decided by trainer/fit/defaults.py from the image size.
  image_feature_stride: int = dataclasses.field(default=0, metadata={
      'choices': (0, *sorted(MOBILENET_STRIDE_LAYERS)),
      'help': 'MobileNetV2 up to this output stride; 0: the deepest layer '
              "whose map is at least 12x12 at the records' image size "
              'without pretrained weights, 6x6 over them'})
  # Training-time image augmentation (never applied to cached features):
  # 'flip' (horizontal flips) or 'flip-rotate' (any of the 8 flips and
  # right-angle rotations), for data whose answers do not depend on
  # orientation, such as the sample data (no left/right questions).
  image_augment: str = dataclasses.field(default='none', metadata={
      'const': 'flip', 'choices': AUGMENTATIONS,
      'help': 'while training: flip (horizontal flips; the default when the '
              'flag has no value) or flip-rotate (all 8 flips and right-angle '
              'rotations); only for answers that do not depend on '
              'orientation'})
  fusion_width: int = 512
  hidden_width: int = 512
  dropout: float = 0.3

  def __post_init__(self):
    # config.json files written when the field was a flag for flips.
    if isinstance(self.image_augment, bool):
      object.__setattr__(self, 'image_augment',
                         'flip' if self.image_augment else 'none')

  def check(self):
    if self.image_augment not in AUGMENTATIONS:
      raise errors.UserError(f'image augmentation {self.image_augment!r}: one of '
                       f'{AUGMENTATIONS}')
    if self.kind not in ('teacher', 'question-only'):
      raise errors.UserError(f'model kind {self.kind!r}: teacher or question-only')
    if self.text_pooling not in ('mean', 'pooled'):
      raise errors.UserError(f'text pooling {self.text_pooling!r}: mean or pooled')
    if self.image_feature_stride not in (0, *MOBILENET_STRIDE_LAYERS):
      raise errors.UserError(f'image feature stride {self.image_feature_stride}: '
                       f'one of {sorted(MOBILENET_STRIDE_LAYERS)} (0: auto)')

  def check_resolved(self):
    """A buildable config: nothing is left to trainer/fit/defaults.py."""
    self.check()
    if self.uses_image and (self.image_trainable is None or
                            not self.image_feature_stride):
      raise ValueError('image_trainable and image_feature_stride must be '
                       'decided before the model is built (see '
                       'trainer/fit/defaults.py)')

  @property
  def uses_image(self):
    return self.kind == 'teacher'

  @property
  def text_frozen(self):
    return self.text_trainable_layers == 0

  @property
  def image_frozen(self):
    return not self.image_trainable


def image_map_side(image_size, convolutions):
  """The student's image map side after `convolutions` 3x3 convolutions, the
  map halved before each but the first (2x2 max pooling or a stride-2
  convolution, both with 'same' padding: ceil(side / 2))."""
  return math.ceil(image_size / 2 ** (convolutions - 1))


TEXT_LAYERS = ('cnn', 'lstm')
VOCABULARIES = ('compact', 'full')
# How the student's image map halves between its convolutions.
IMAGE_DOWNSAMPLINGS = ('max-pool', 'stride')


@dataclasses.dataclass(frozen=True)
class StudentConfig:
  """Student sizes; the defaults (compact vocabulary) have ~100x fewer
  parameters than the demo teacher (benchmarks/RESULTS.md)."""
  text_layer: str = dataclasses.field(default='cnn', metadata={
      'choices': TEXT_LAYERS})  # 1-D convolutions or a BiLSTM
  # trainer/data/compact_vocabulary.py: the token embedding's rows.
  vocabulary: str = dataclasses.field(default='compact', metadata={
      'choices': VOCABULARIES,
      'help': "compact: embed only the wordpieces of the training split's "
              'questions (others read as [UNK]); full: the whole WordPiece '
              'vocabulary'})
  embedding_dim: int = 64
  text_width: int = 128
  text_kernel_size: int = dataclasses.field(default=3, metadata={'cli': False})
  # 3x3 convolutions; the map halves before each but the first.
  image_filters: tuple = (32, 64, 128)
  # Then more convolutions of the last width, each after a halving, while the
  # map stays this wide: at 96 px a fourth (12x12 instead of 24x24), so that
  # a unit sees a whole 13-24 px glyph (benchmarks/HISTORY.md, "The glyphs
  # family").
  image_min_map: int = dataclasses.field(default=12, metadata={
      'help': 'after --image-filters, more convolutions of the last width, '
              'each after a halving, while the map stays at least this wide '
              '(0: none)'})
  # 2x2 max pooling then a stride-1 convolution, as the plain reference CNN
  # does, for the same multiply-adds as a stride-2 convolution: on glyphs
  # the student alone went from 0.650 to 0.763 (benchmarks/HISTORY.md, "The
  # student's halving").
  image_downsampling: str = dataclasses.field(default='max-pool', metadata={
      'choices': IMAGE_DOWNSAMPLINGS,
      'help': 'how the image map halves between convolutions: max-pool (2x2 '
              'max pooling, then a stride-1 convolution) or stride (stride-2 '
              'convolutions)'})
  fusion_width: int = 128
  hidden_width: int = 128
  dropout: float = 0.2

  def image_convolutions(self, image_size):
    """The filters of every image convolution at `image_size`: image_filters,
    then the last width again for each further halving that leaves the map
    at least image_min_map wide."""
    filters = list(self.image_filters)
    side = image_map_side(image_size, len(filters))
    while self.image_min_map and math.ceil(side / 2) >= self.image_min_map:
      filters.append(filters[-1])
      side = math.ceil(side / 2)
    return tuple(filters)

  def check(self):
    if self.text_layer not in TEXT_LAYERS:
      raise errors.UserError(f'student text layer {self.text_layer!r}: one of '
                       f'{TEXT_LAYERS}')
    if self.vocabulary not in VOCABULARIES:
      raise errors.UserError(f'--vocabulary {self.vocabulary!r}: one of '
                             f'{VOCABULARIES}')
    if not self.image_filters:
      raise errors.UserError('the student needs at least one image convolution')
    if self.image_downsampling not in IMAGE_DOWNSAMPLINGS:
      raise errors.UserError(f'--image-downsampling '
                             f'{self.image_downsampling!r}: one of '
                             f'{IMAGE_DOWNSAMPLINGS}')
    if self.image_min_map < 0:
      raise errors.UserError(f'--image-min-map {self.image_min_map}: 0 or more')

  @classmethod
  def from_dict(cls, values):
    values = dict(values)
    if 'image_filters' in values:
      values['image_filters'] = tuple(values['image_filters'])
    return cls(**values)

  @property
  def uses_image(self):
    return True
