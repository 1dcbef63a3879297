"""What the benchmarks that run `vqa` commands as child processes share."""
import os
import pathlib
import resource

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def children_cpu_seconds():
  """User plus system CPU time of every finished child process so far."""
  usage = resource.getrusage(resource.RUSAGE_CHILDREN)
  return usage.ru_utime + usage.ru_stime


def environment(**defaults):
  """This environment with the repository first on PYTHONPATH, and
  `defaults` for variables it does not set."""
  env = dict(os.environ)
  env['PYTHONPATH'] = os.pathsep.join(
      [str(REPO_ROOT)] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
  for name, value in defaults.items():
    env.setdefault(name, value)
  return env
