"""The errors a user can act on: a wrong flag, file or input.

`vqa` prints a UserError as one line, `vqa JOB: error: MESSAGE`, and exits 2
(VQA_TRACEBACK=1 shows its traceback too). Any other exception is a bug and
keeps its traceback. No Beam or TensorFlow import here: every stage raises
these.
"""


class UserError(ValueError):
  """The flags, the files or the inputs cannot work; the message says which
  and what to do."""


class MissingInput(UserError, FileNotFoundError):
  """A file or folder the job reads does not exist."""


class MissingPackage(UserError):
  """An optional package the job needs is not installed."""
