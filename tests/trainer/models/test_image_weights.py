"""What the teacher's image encoder says when its weights cannot be had."""
import pytest

from trainer.contract import errors
from trainer.models import model_config
from trainer.models import multimodal


def _config(weights):
  return model_config.ModelConfig(image_weights=weights, image_size=32,
                                  image_alpha=0.35, image_trainable=True,
                                  image_feature_stride=8)


def test_a_failed_imagenet_download_says_what_to_pass(monkeypatch):
  def offline(**unused_kwargs):
    # What tf-keras's get_file raises without network.
    raise Exception('URL fetch failure on https://storage.googleapis.com/'
                    'mobilenet_v2_weights.h5: None -- [Errno -2] Name or '
                    'service not known')
  monkeypatch.setattr(multimodal.keras.applications, 'MobileNetV2', offline)
  with pytest.raises(errors.UserError) as error:
    multimodal.mobilenet_v2_features(_config('imagenet'))
  message = str(error.value)
  assert message.startswith('--image-weights imagenet: the MobileNetV2 '
                            'ImageNet weights could not be downloaded')
  assert '--image-weights none' in message and '--image-weights FILE' in message


def test_other_failures_keep_their_traceback(monkeypatch):
  def broken(**unused_kwargs):
    raise Exception('something else')
  monkeypatch.setattr(multimodal.keras.applications, 'MobileNetV2', broken)
  with pytest.raises(Exception, match='something else') as error:
    multimodal.mobilenet_v2_features(_config('imagenet'))
  assert not isinstance(error.value, errors.UserError)


def test_a_missing_weights_file_is_named(tmp_path):
  missing = str(tmp_path / 'weights.h5')
  with pytest.raises(errors.MissingInput, match='weights.h5: not found'):
    multimodal.mobilenet_v2_features(_config(missing))
