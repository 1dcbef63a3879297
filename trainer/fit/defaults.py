"""The choices `vqa train` and `vqa distill` make when a field is left to them.

Each default has to learn on a data set nobody tuned it on, so the values
that depend on the data or the hardware are decided here, from the records'
image size, the pretrained weights and the global batch size:

  image_trainable       trained when there are no pretrained weights (frozen
                        random features are noise), frozen over pretrained
                        ones (ImageNet's features transfer; faster)
  image_feature_stride  the deepest MobileNetV2 layer whose map is still
                        at least 6x6 at the records' image size over
                        pretrained weights, at least 12x12 when the encoder
                        is trained from random weights
  learning_rate         BASE_LEARNING_RATE x sqrt(global batch / 32)
  cache_frozen_features on whenever an encoder is frozen
  student image convolutions
                        the student's --image-filters, then one more
                        convolution for each halving that keeps the map
                        at least --image-min-map (12) wide

Every choice comes with its reason; `vqa train` prints them and writes them
to config.json.
"""
import dataclasses
import math

from trainer.contract import errors
from trainer.models import model_config

# MobileNetV2's output strides, deepest first.
STRIDES = (32, 16, 8, 4)
# Over pretrained weights the deepest layers hold ImageNet's most transferable
# features: keep them down to a 6x6 map.
SMALLEST_FEATURE_MAP = 6
# From random weights, in the epochs of a run, the deep blocks (550k of the
# 616k weights up to stride 16; 66k up to stride 8) do not learn to keep
# details a few pixels wide, which a 6x6 map has already pooled away: glyphs
# at 96 px, 10 epochs, val2014 VQA accuracy 0.613 at stride 16 (6x6), 0.848
# at stride 8 (12x12), 0.692 at stride 4 (24x24, too shallow to read a
# glyph) (benchmarks/HISTORY.md, "The glyphs family and the feature stride").
SMALLEST_FEATURE_MAP_FROM_SCRATCH = 12
BASE_LEARNING_RATE = 2e-3
BASE_BATCH = 32


@dataclasses.dataclass(frozen=True)
class Choice:
  """One value decided for the user, and why."""
  field: str
  value: object
  reason: str

  def describe(self):
    return f'{self.field} = {self.value}: {self.reason}'

  def to_dict(self):
    return {'field': self.field, 'value': self.value, 'reason': self.reason}


def feature_map_size(image_size, stride):
  """MobileNetV2's map side at `stride` ('same' padding rounds up)."""
  return math.ceil(image_size / stride)


def smallest_feature_map(from_scratch):
  return SMALLEST_FEATURE_MAP_FROM_SCRATCH if from_scratch else (
      SMALLEST_FEATURE_MAP)


def auto_feature_stride(image_size, from_scratch=False):
  """The deepest stride whose map is at least smallest_feature_map() wide
  (the shallowest stride, 4, when none is)."""
  for stride in STRIDES:
    if feature_map_size(image_size, stride) >= smallest_feature_map(
        from_scratch):
      return stride
  return STRIDES[-1]


def auto_learning_rate(global_batch):
  """Adam's rate for a global batch: square-root scaling from batch 32."""
  return BASE_LEARNING_RATE * math.sqrt(global_batch / BASE_BATCH)


def check_image_encoder(model):
  """Refuses a frozen, randomly initialised image encoder."""
  if model.uses_image and model.image_weights == 'none' and (
      model.image_trainable is False):
    raise errors.UserError(
        'a frozen image encoder without pretrained weights computes random '
        'features, which carry no information about the image: let it '
        'train (leave out --image-frozen) or give pretrained weights '
        '(--image-weights imagenet or a weights file)')


def resolve_image_choices(model):
  """(model with image_trainable and image_feature_stride decided, choices)."""
  check_image_encoder(model)
  if not model.uses_image:
    return model, []
  choices = []
  if model.image_trainable is None:
    trainable = model.image_weights == 'none'
    reason = ('no pretrained image weights: a frozen random encoder would '
              'give noise features' if trainable else
              'pretrained image weights: their features transfer frozen '
              '(--image-trainable fine-tunes them)')
    model = dataclasses.replace(model, image_trainable=trainable)
    choices.append(Choice('image_trainable', trainable, reason))
  if not model.image_feature_stride:
    model, choice = _feature_stride_choice(model)
    choices.append(choice)
  return model, choices


def _feature_stride_choice(model):
  from_scratch = model.image_weights == 'none'
  stride = auto_feature_stride(model.image_size, from_scratch)
  side = feature_map_size(model.image_size, stride)
  smallest = smallest_feature_map(from_scratch)
  why = ('trained from random weights, the deep layers would pool away '
         'details a few pixels wide' if from_scratch else
         "pretrained weights: the deepest layers' features transfer best")
  reach = (f'the deepest MobileNetV2 layer with a map of at least '
           f'{smallest}x{smallest} ({side}x{side})' if side >= smallest else
           f'the shallowest MobileNetV2 layer offered ({side}x{side}; none '
           f'reaches {smallest}x{smallest})')
  return (dataclasses.replace(model, image_feature_stride=stride),
          Choice('image_feature_stride', stride,
                 f'{model.image_size} px images, {why}: {reach}'))


def resolve_learning_rate(config, global_batch):
  """(config with learning_rate decided, choices)."""
  if config.learning_rate:
    return config, []
  rate = auto_learning_rate(global_batch)
  return dataclasses.replace(config, learning_rate=rate), [Choice(
      'learning_rate', float(f'{rate:.6g}'),
      f'{BASE_LEARNING_RATE:g} x sqrt(global batch {global_batch} / '
      f'{BASE_BATCH})')]


def student_image_choice(student, image_size):
  """The Choice of the student's image convolutions at `image_size`."""
  convolutions = student.image_convolutions(image_size)
  extra = len(convolutions) - len(student.image_filters)
  side = model_config.image_map_side(image_size, len(convolutions))
  wanted = student.image_min_map
  if extra:
    reason = (f'{image_size} px images: --image-filters then {extra} more '
              f'convolution{"s" if extra > 1 else ""}, each after a halving, '
              f'down to a {side}x{side} map (at least {wanted}x{wanted}): '
              'each unit sees a wider field before the pooling')
  else:
    reason = (f'{image_size} px images: --image-filters alone ({side}x{side} '
              'map); another halving would leave less than '
              f'{wanted}x{wanted}' if wanted else
              '--image-min-map 0: --image-filters alone')
  return Choice('student_image_convolutions', list(convolutions), reason)


def resolve_feature_cache(config):
  """(config with cache_frozen_features decided, choices)."""
  if config.cache_frozen_features is not None:
    return config, []
  model = config.model
  frozen = [name for name, is_frozen in (
      ('text', model.text_frozen),
      ('image', model.uses_image and model.image_frozen)) if is_frozen]
  cache = bool(frozen)
  reason = (f'frozen {" and ".join(frozen)} encoder: its outputs are computed '
            'once, not at every step' if cache else
            'no frozen encoder to cache')
  return dataclasses.replace(config, cache_frozen_features=cache), [
      Choice('cache_frozen_features', cache, reason)]


def format_choices(choices):
  """The lines `vqa train` prints before training."""
  if not choices:
    return 'defaults decided: none (every value given)'
  return 'defaults decided:\n' + '\n'.join(
      f'  {choice.describe()}' for choice in choices)
