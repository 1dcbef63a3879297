"""`vqa predict` refuses what `vqa serve` refuses, naming the file, before
it loads the model."""
import io

import pytest
from PIL import Image

from trainer.app import cli
from trainer.contract import errors
from trainer.serve import predict_inputs
from trainer.serve import serve_config


def _jpeg(size=(40, 30)):
  buffer = io.BytesIO()
  Image.new('RGB', size, (200, 30, 30)).save(buffer, format='JPEG')
  return buffer.getvalue()


def _predict(capsys, tmp_path, image):
  # No model at --model: an image refused must be refused before loading.
  code = cli.main(['predict', '--model', str(tmp_path / 'no_model'),
                   '--image', str(image), '--question', 'What is it?'])
  return code, capsys.readouterr()


def test_a_text_file_is_refused_in_one_line(tmp_path, capsys):
  notes = tmp_path / 'notes.txt'
  notes.write_text('shopping list: eggs, milk\n')
  code, output = _predict(capsys, tmp_path, notes)
  assert code == 2
  assert output.err == (f'vqa predict: error: {notes}: the file is not an '
                        'image (JPEG, PNG, GIF, BMP or another format Pillow '
                        'reads)\n')
  assert 'DecodeImage' not in output.err + output.out


def test_a_truncated_image_is_refused(tmp_path, capsys):
  broken = tmp_path / 'broken.jpg'
  broken.write_bytes(_jpeg()[:200])
  code, output = _predict(capsys, tmp_path, broken)
  assert code == 2
  assert output.err.startswith(f'vqa predict: error: {broken}: ')
  assert len(output.err.splitlines()) == 1


def test_a_missing_image_is_named(tmp_path, capsys):
  code, output = _predict(capsys, tmp_path, tmp_path / 'gone.jpg')
  assert code == 2
  assert output.err == f'vqa predict: error: {tmp_path / "gone.jpg"}: not found\n'


def test_a_too_large_image_is_refused_with_the_serve_limits(tmp_path):
  big = tmp_path / 'big.jpg'
  big.write_bytes(_jpeg(size=(400, 300)))
  limits = serve_config.UploadLimits(max_pixels=100 * 100)
  with pytest.raises(errors.UserError, match='big.jpg: the image is 400x300'):
    predict_inputs.read_image(str(big), limits)


def test_a_good_image_passes_unchanged(tmp_path):
  good = tmp_path / 'good.jpg'
  good.write_bytes(_jpeg())
  assert predict_inputs.read_image(str(good)) == good.read_bytes()


def test_a_missing_model_is_one_line(tmp_path, capsys):
  good = tmp_path / 'good.jpg'
  good.write_bytes(_jpeg())
  code, output = _predict(capsys, tmp_path, good)
  assert code == 2
  assert 'no exported model' in output.err
  assert len(output.err.splitlines()) == 1


NO_TENSORFLOW = '''
import sys
class NoTensorFlow:
  def find_spec(self, name, path=None, target=None):
    if name.split('.')[0] == 'tensorflow':
      raise ImportError('TensorFlow may not load before the inputs are checked')
sys.meta_path.insert(0, NoTensorFlow())
from trainer.app import cli
sys.exit(cli.main(sys.argv[1:]))
'''


def test_inputs_are_refused_before_tensorflow_loads(tmp_path):
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  notes = tmp_path / 'notes.txt'
  notes.write_text('not an image\n')
  done = subprocess.run(
      [sys.executable, '-c', NO_TENSORFLOW, 'predict', '--model',
       str(tmp_path), '--image', str(notes), '--question', 'What?'],
      capture_output=True, text=True, check=False)
  assert done.returncode == 2
  assert done.stderr.startswith(f'vqa predict: error: {notes}: the file is '
                                'not an image')
