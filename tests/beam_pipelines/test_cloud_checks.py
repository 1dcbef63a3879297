"""A Dataflow submission without credentials, or without a way to Cloud
Storage, fails in seconds with one line (Beam alone retries for minutes)."""
import json

import pytest

from beam_pipelines import cloud_checks
from trainer.app import cli
from trainer.contract import errors

DATAFLOW = ['--runner', 'DataflowRunner', '--project', 'p', '--region',
            'us-central1', '--temp_location', 'gs://bucket/tmp']


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
  monkeypatch.delenv('GOOGLE_APPLICATION_CREDENTIALS', raising=False)
  monkeypatch.delenv(cloud_checks.EMULATOR_VARIABLE, raising=False)
  # gcloud's application-default file lives under the config folder.
  monkeypatch.setenv('CLOUDSDK_CONFIG', str(tmp_path / 'gcloud'))
  monkeypatch.setenv('NO_GCE_CHECK', 'True')


@pytest.fixture
def credentials(monkeypatch, tmp_path):
  key = tmp_path / 'adc.json'
  key.write_text(json.dumps({'type': 'authorized_user', 'client_id': 'x',
                             'client_secret': 'y', 'refresh_token': 'z'}))
  monkeypatch.setenv('GOOGLE_APPLICATION_CREDENTIALS', str(key))
  monkeypatch.delenv(cloud_checks.EMULATOR_VARIABLE, raising=False)


def test_dataflow_without_credentials_is_one_line(no_credentials, capsys):
  code = cli.main(['preprocess', '--data-dir', 'gs://bucket/vqa', '--output',
                   'gs://bucket/records', *DATAFLOW])
  assert code == 2
  err = capsys.readouterr().err
  assert err.startswith('vqa preprocess: error: --runner DataflowRunner: no '
                        'Google Cloud credentials found')
  assert len(err.splitlines()) == 1


def test_unreachable_storage_names_the_input(credentials, monkeypatch, capsys):
  def no_network(*unused_args, **unused_kwargs):
    raise OSError('[Errno -2] Name or service not known')
  monkeypatch.setattr(cloud_checks.socket, 'create_connection', no_network)
  code = cli.main(['preprocess', '--data-dir', 'gs://bucket/vqa', '--output',
                   'gs://bucket/records', *DATAFLOW])
  assert code == 2
  err = capsys.readouterr().err
  assert err.startswith('vqa preprocess: error: gs://bucket/vqa: Cloud '
                        'Storage (storage.googleapis.com) cannot be reached')


def test_local_runs_and_emulators_are_not_checked(no_credentials, monkeypatch):
  cloud_checks.check_dataflow_access('', ['gs://bucket/x'])
  cloud_checks.check_dataflow_access('DirectRunner', ['gs://bucket/x'])
  monkeypatch.setenv(cloud_checks.EMULATOR_VARIABLE, 'http://127.0.0.1:1')
  cloud_checks.check_storage_reachable(['gs://bucket/x'])
  with pytest.raises(errors.UserError, match='no Google Cloud credentials'):
    cloud_checks.check_dataflow_access('dataflow', ['gs://bucket/x'])
