"""What `python -m MODULE` does for a module that runs a `vqa` job: it points
to the command instead of exiting 0 having done nothing. (The job modules
cannot call the app: they sit below it in the layers.)"""
import sys

USAGE = 'run `vqa {job}` (or `python -m trainer.app.cli {job}`); {module} is '\
        'a module of that job, not a command'


def refuse_direct_run(job, module):
  """Prints where the job is run from; returns exit status 2."""
  print(USAGE.format(job=job, module=module), file=sys.stderr)
  return 2
