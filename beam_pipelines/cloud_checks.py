"""Checks before a Dataflow submission: Google Cloud credentials, and that
Cloud Storage answers. Without them Beam retries for about two minutes and
ends in a long traceback; these fail in seconds with one line instead."""
import os
import socket

from trainer.contract import errors

DATAFLOW_RUNNERS = ('dataflowrunner', 'dataflow')
STORAGE_HOST = 'storage.googleapis.com'
# Set by GCS emulators (and this project's tests); then no real GCS is used.
EMULATOR_VARIABLE = 'STORAGE_EMULATOR_HOST'


def is_dataflow(runner):
  return (runner or '').lower() in DATAFLOW_RUNNERS


def check_credentials():
  """UserError unless Application Default Credentials are found."""
  # The metadata-server probe of google.auth waits on a closed network.
  os.environ.setdefault('GCE_METADATA_TIMEOUT', '1')
  try:
    import google.auth  # pylint: disable=g-import-not-at-top
    from google.auth import exceptions  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise errors.MissingPackage('--runner DataflowRunner needs apache-beam[gcp]'
                                ' (pip install "apache-beam[gcp]")') from e
  try:
    google.auth.default()
  except exceptions.DefaultCredentialsError as e:
    raise errors.UserError(
        '--runner DataflowRunner: no Google Cloud credentials found (run '
        '`gcloud auth application-default login`, or set '
        f'GOOGLE_APPLICATION_CREDENTIALS to a key file): {e}') from e


def check_storage_reachable(paths, host=STORAGE_HOST, timeout=5.0):
  """UserError when gs:// paths are given and Cloud Storage does not
  answer (no network, no DNS)."""
  if os.environ.get(EMULATOR_VARIABLE):
    return
  gcs = [path for path in paths if path.startswith('gs://')]
  if not gcs:
    return
  try:
    with socket.create_connection((host, 443), timeout=timeout):
      pass
  except OSError as e:
    raise errors.UserError(
        f'{gcs[0]}: Cloud Storage ({host}) cannot be reached from this '
        f'machine ({e}); check the network or the proxy') from e


def check_dataflow_access(runner, paths):
  """Before a Dataflow submission: credentials, then GCS reachability."""
  if not is_dataflow(runner):
    return
  check_credentials()
  check_storage_reachable(paths)
