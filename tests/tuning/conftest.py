"""One Ray for all tuning tests (with its dashboard), and the tiny models."""
import socket

import pytest
import ray

# The trainer tests' tiny data and models, as fixtures here too.
from tests.trainer.conftest import tiny_records  # pylint: disable=unused-import
from tests.trainer.conftest import tiny_student  # pylint: disable=unused-import
from tests.trainer.conftest import tiny_teacher  # pylint: disable=unused-import
from tuning import options as options_lib
from tuning import sweep


def free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


@pytest.fixture(scope='package')
def ray_context(tmp_path_factory):
  """A local Ray with its dashboard on 127.0.0.1, started as `vqa tune` does.

  Starting Ray costs 10-20 s, so the sweeps of all tuning tests share it
  (they use an initialised Ray as it is); it is shut down after the last
  tuning test, leaving no Ray processes behind.
  """
  options = options_lib.SweepOptions(
      output=str(tmp_path_factory.mktemp('unused')), num_cpus=2,
      dashboard=True, dashboard_port=free_port())
  context = sweep.start_ray(options)
  assert context is not None, 'Ray was already running in the test process'
  yield context
  ray.shutdown()
