"""The text encoder: the bundled MiniLM converted without torch, and the cache."""
import json
import logging
import os
import shutil
import sys

import numpy as np
import pytest
import tensorflow as tf

from trainer.contract import bundled
from trainer.models import text_encoder

MINILM_WEIGHTS = 'model.safetensors'


def _weight(model, suffix):
  """The model's weight whose name ends with `suffix`, as a numpy array."""
  matches = [w for w in model.weights if w.name.endswith(suffix)]
  assert len(matches) == 1, suffix
  return matches[0].numpy()


def _unscoped_weights(model):
  """{weight name without the model's own scope: value}."""
  return {w.name.split('/', 1)[1]: w.numpy() for w in model.weights}


def _write_pytorch_checkpoint(model, directory, drop=()):
  """Saves `model` as a BertModel does: PyTorch names and layout, safetensors.

  Args:
    model: a built TFBertModel.
    directory: receives config.json and model.safetensors.
    drop: checkpoint keys to leave out.
  """
  import safetensors.numpy  # pylint: disable=g-import-not-at-top
  from transformers import modeling_tf_pytorch_utils as utils  # pylint: disable=g-import-not-at-top
  state_dict = {'embeddings.position_ids': np.arange(512)[np.newaxis]}
  for weight in model.weights:
    name, transpose = utils.convert_tf_weight_name_to_pt_weight_name(
        weight.name, tf_weight_shape=weight.shape)
    assert transpose in (utils.TransposeType.NO, utils.TransposeType.SIMPLE)
    value = weight.numpy()
    if transpose == utils.TransposeType.SIMPLE:
      value = value.T  # torch.nn.Linear keeps [out, in].
    state_dict[name.removeprefix('bert.')] = np.ascontiguousarray(value)
  for key in drop:
    del state_dict[key]
  os.makedirs(directory, exist_ok=True)
  model.config.to_json_file(os.path.join(directory, 'config.json'))
  safetensors.numpy.save_file(state_dict,
                              os.path.join(directory, MINILM_WEIGHTS))


@pytest.fixture(scope='module')
def cache_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp('vqa_cache'))


@pytest.fixture(scope='module')
def minilm(cache_dir):
  """(model, config, directory) of the bundled all-MiniLM-L6-v2."""
  model, config = text_encoder.load_text_encoder(
      text_encoder.DEFAULT_TEXT_ENCODER, cache_dir)
  directory = text_encoder.resolve_text_encoder_dir(
      text_encoder.DEFAULT_TEXT_ENCODER, cache_dir)
  return model, config, directory


@pytest.fixture(scope='module')
def minilm_checkpoint():
  import safetensors.numpy  # pylint: disable=g-import-not-at-top
  return safetensors.numpy.load_file(
      os.path.join(bundled.bundled_model_dir(), MINILM_WEIGHTS))


@pytest.fixture(scope='module')
def tiny_model():
  tf.random.set_seed(0)
  return text_encoder.build_random_text_encoder()


def test_bundled_minilm_loads_without_torch(minilm, cache_dir):
  _, config, directory = minilm
  assert 'torch' not in sys.modules
  assert (config.num_hidden_layers, config.hidden_size,
          config.vocab_size) == (6, 384, 30522)
  assert directory.startswith(cache_dir)
  assert sorted(os.listdir(directory)) == ['config.json', 'conversion.json',
                                           'tf_model.h5']


def test_every_minilm_weight_comes_from_the_checkpoint_pooler_included(minilm):
  _, _, directory = minilm
  with open(os.path.join(directory, 'conversion.json')) as f:
    info = json.load(f)
  # 104 tensors: 103 weights (pooler included) and the position_ids buffer.
  assert info['checkpoint_tensors'] == 104
  assert info['loaded_weights'] == 103
  assert info['missing_keys'] == []
  assert info['unused_keys'] == ['bert.embeddings.position_ids']
  assert info['pooler_pretrained']


def test_loaded_weights_equal_the_safetensors_tensors(minilm,
                                                      minilm_checkpoint):
  model, _, _ = minilm
  np.testing.assert_array_equal(
      _weight(model, 'bert/embeddings/word_embeddings/weight:0'),
      minilm_checkpoint['embeddings.word_embeddings.weight'])
  # A PyTorch Linear weight is [out, in]; the Keras kernel is [in, out].
  np.testing.assert_array_equal(
      _weight(model, 'layer_._3/attention/self/query/kernel:0'),
      minilm_checkpoint['encoder.layer.3.attention.self.query.weight'].T)
  np.testing.assert_array_equal(
      _weight(model, 'layer_._5/output/LayerNorm/gamma:0'),
      minilm_checkpoint['encoder.layer.5.output.LayerNorm.weight'])
  np.testing.assert_array_equal(
      _weight(model, 'pooler/dense/kernel:0'),
      minilm_checkpoint['pooler.dense.weight'].T)


def test_paraphrases_are_close_and_unrelated_questions_are_not(minilm):
  import transformers  # pylint: disable=g-import-not-at-top
  model, _, _ = minilm
  tokenizer = transformers.BertTokenizerFast.from_pretrained(
      bundled.bundled_model_dir())
  questions = ['What color is the bus?', 'Which colour is the bus?',
               'How many dogs are on the sofa?', 'Is it raining?']
  batch = tokenizer(questions, padding=True, return_tensors='np')
  embeddings = text_encoder.sentence_embedding(
      model, batch['input_ids'], batch['attention_mask']).numpy()
  unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
  assert unit[0] @ unit[1] > 0.85
  assert unit[2] @ unit[3] < 0.5


def test_second_resolve_uses_the_cache_without_converting(minilm, cache_dir,
                                                          monkeypatch):
  _, _, directory = minilm
  weights = os.path.join(directory, 'tf_model.h5')
  mtime = os.stat(weights).st_mtime_ns

  def fail(*args, **kwargs):
    raise AssertionError('converted again')

  monkeypatch.setattr(text_encoder, 'convert_safetensors', fail)
  again = text_encoder.resolve_text_encoder_dir(
      text_encoder.DEFAULT_TEXT_ENCODER, cache_dir)
  assert again == directory
  assert os.stat(weights).st_mtime_ns == mtime
  # No temporary build folders are left behind.
  assert os.listdir(os.path.dirname(directory)) == [os.path.basename(directory)]


def test_a_local_safetensors_directory_is_converted(minilm, cache_dir,
                                                   tmp_path):
  _, _, bundled_converted = minilm
  local = tmp_path / 'my-minilm'
  shutil.copytree(bundled.bundled_model_dir(), local)
  directory = text_encoder.resolve_text_encoder_dir(str(local), cache_dir)
  assert directory != bundled_converted
  assert os.path.basename(directory).startswith('my-minilm-')
  with open(os.path.join(directory, 'conversion.json')) as f:
    assert json.load(f)['loaded_weights'] == 103
  assert text_encoder.resolve_text_encoder_dir(str(local),
                                               cache_dir) == directory


def test_a_tf_checkpoint_directory_is_used_as_is(minilm, cache_dir):
  _, _, directory = minilm
  assert text_encoder.resolve_text_encoder_dir(directory,
                                               cache_dir) == directory


def test_the_conversion_round_trips_every_weight(tiny_model, tmp_path):
  _write_pytorch_checkpoint(tiny_model, tmp_path / 'tiny')
  model, config = text_encoder.load_text_encoder(str(tmp_path / 'tiny'),
                                                 str(tmp_path / 'cache'))
  assert config.hidden_size == 32
  expected = _unscoped_weights(tiny_model)
  actual = _unscoped_weights(model)
  assert sorted(actual) == sorted(expected)
  for name, value in expected.items():
    np.testing.assert_array_equal(actual[name], value, err_msg=name)


def test_a_missing_encoder_weight_fails_the_conversion(tiny_model, tmp_path):
  key = 'encoder.layer.1.attention.self.value.weight'
  _write_pytorch_checkpoint(tiny_model, tmp_path / 'tiny', drop=[key])
  with pytest.raises(text_encoder.TextEncoderError, match=key):
    text_encoder.resolve_text_encoder_dir(str(tmp_path / 'tiny'),
                                          str(tmp_path / 'cache'))
  # The failed conversion leaves nothing in the cache.
  assert os.listdir(tmp_path / 'cache' / 'text_encoders') == []


def test_a_checkpoint_without_pooler_converts_with_a_warning(tiny_model,
                                                             tmp_path, caplog):
  pooler = ['pooler.dense.weight', 'pooler.dense.bias']
  _write_pytorch_checkpoint(tiny_model, tmp_path / 'tiny', drop=pooler)
  with caplog.at_level(logging.WARNING, logger=text_encoder.__name__):
    model, _ = text_encoder.load_text_encoder(str(tmp_path / 'tiny'),
                                              str(tmp_path / 'cache'))
  assert 'no pooler weights' in caplog.text
  directory = text_encoder.resolve_text_encoder_dir(str(tmp_path / 'tiny'),
                                                    str(tmp_path / 'cache'))
  with open(os.path.join(directory, 'conversion.json')) as f:
    info = json.load(f)
  assert not info['pooler_pretrained']
  assert info['missing_keys'] == ['bert.pooler.dense.bias',
                                  'bert.pooler.dense.weight']
  np.testing.assert_array_equal(
      _weight(model, 'layer_._1/attention/self/value/kernel:0'),
      _weight(tiny_model, 'layer_._1/attention/self/value/kernel:0'))


def test_a_remote_directory_is_copied_and_converted_once(tiny_model, tmp_path,
                                                        monkeypatch):
  # ram:// stands in for gs://: both go through tf.io.gfile.
  _write_pytorch_checkpoint(tiny_model, tmp_path / 'tiny')
  url = 'ram://bucket/models/tiny-bert'
  tf.io.gfile.makedirs(url)
  for name in ('config.json', MINILM_WEIGHTS):
    tf.io.gfile.copy(str(tmp_path / 'tiny' / name), f'{url}/{name}')
  cache = str(tmp_path / 'cache')
  directory = text_encoder.resolve_text_encoder_dir(url + '/', cache)
  assert directory.startswith(cache)
  assert os.path.isfile(os.path.join(directory, 'tf_model.h5'))
  monkeypatch.setattr(tf.io.gfile, 'copy', None)  # No second download.
  assert text_encoder.resolve_text_encoder_dir(url, cache) == directory


def test_a_remote_tf_checkpoint_is_copied(minilm, tmp_path):
  _, _, converted = minilm
  url = 'ram://bucket/models/minilm-tf'
  tf.io.gfile.makedirs(url)
  for name in ('config.json', 'tf_model.h5'):
    tf.io.gfile.copy(os.path.join(converted, name), f'{url}/{name}')
  directory = text_encoder.resolve_text_encoder_dir(url, str(tmp_path))
  assert sorted(os.listdir(directory)) == ['config.json', 'tf_model.h5']


def test_a_directory_without_weights_is_named_in_the_error(tmp_path):
  (tmp_path / 'config.json').write_text('{"model_type": "bert"}')
  with pytest.raises(text_encoder.TextEncoderError,
                     match=f'{tmp_path}.*neither tf_model.h5 nor'):
    text_encoder.resolve_text_encoder_dir(str(tmp_path), str(tmp_path))


def test_a_directory_without_config_is_named_in_the_error(tmp_path):
  with pytest.raises(text_encoder.TextEncoderError,
                     match=f'{tmp_path} has no config.json'):
    text_encoder.resolve_text_encoder_dir(str(tmp_path), str(tmp_path))


def test_a_missing_local_path_is_not_looked_up_on_the_hub(tmp_path):
  missing = str(tmp_path / 'no' / 'such' / 'dir')
  with pytest.raises(text_encoder.TextEncoderError, match='no such directory'):
    text_encoder.resolve_text_encoder_dir(missing, str(tmp_path))


def test_an_unknown_hub_name_offline_raises_a_clear_error(tmp_path,
                                                          monkeypatch):
  from huggingface_hub import constants  # pylint: disable=g-import-not-at-top
  monkeypatch.setenv('HF_HUB_OFFLINE', '1')
  # huggingface_hub reads the variable once, at import.
  monkeypatch.setattr(constants, 'HF_HUB_OFFLINE', True)
  name = 'no-such-org/no-such-bert'
  with pytest.raises(text_encoder.TextEncoderError,
                     match=f'{name}.*Hugging Face hub'):
    text_encoder.resolve_text_encoder_dir(name, str(tmp_path))


def test_a_hub_model_with_only_safetensors_is_converted(tiny_model, tmp_path,
                                                        monkeypatch):
  import huggingface_hub  # pylint: disable=g-import-not-at-top
  from huggingface_hub import errors  # pylint: disable=g-import-not-at-top
  snapshot = tmp_path / 'hub' / 'snapshots' / 'abc123'
  _write_pytorch_checkpoint(tiny_model, snapshot)
  downloads = []

  def fake_download(name, filename):
    downloads.append((name, filename))
    if not (snapshot / filename).exists():
      raise errors.EntryNotFoundError(f'{filename} is not in {name}')
    return str(snapshot / filename)

  monkeypatch.setattr(huggingface_hub, 'hf_hub_download', fake_download)
  directory = text_encoder.resolve_text_encoder_dir('some-org/tiny-bert',
                                                    str(tmp_path / 'cache'))
  assert downloads == [('some-org/tiny-bert', name) for name in
                       ('config.json', 'tf_model.h5', 'model.safetensors')]
  assert os.path.basename(directory).startswith('tiny-bert-')
  assert os.path.isfile(os.path.join(directory, 'tf_model.h5'))


def test_masked_mean_ignores_padding():
  hidden = tf.constant([[[1., 2.], [3., 4.], [100., 100.]],
                        [[5., 6.], [0., 0.], [0., 0.]],
                        [[7., 7.], [7., 7.], [7., 7.]]])
  mask = tf.constant([[1, 1, 0], [1, 0, 0], [0, 0, 0]])
  np.testing.assert_allclose(text_encoder.masked_mean(hidden, mask).numpy(),
                             [[2., 3.], [5., 6.], [0., 0.]])


def test_the_small_random_encoder_runs(tiny_model):
  ids = tf.constant([[101, 2054, 102, 0]])
  mask = tf.constant([[1, 1, 1, 0]])
  embedding = text_encoder.sentence_embedding(tiny_model, ids, mask)
  assert embedding.shape == (1, 32)
  assert tiny_model.config.num_hidden_layers == 2


def test_default_cache_dir_honours_the_environment(monkeypatch):
  monkeypatch.setenv('VQA_CACHE_DIR', '/somewhere/else')
  assert text_encoder.default_cache_dir() == '/somewhere/else'
  monkeypatch.delenv('VQA_CACHE_DIR')
  monkeypatch.setenv('HOME', '/home/someone')
  assert text_encoder.default_cache_dir() == '/home/someone/.cache/vqa'
