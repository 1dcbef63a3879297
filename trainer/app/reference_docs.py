"""The generated parts of the docs: docs/cli.md from the parsers, and the
record contract table in docs/data.md from record_spec.FEATURES.

  python -m trainer.app.reference_docs           # rewrites both
  python -m trainer.app.reference_docs --check   # exit 1 where one differs

A test runs the check, so a flag or a feature changed without the docs
fails the suite.
"""
import contextlib
import os
import pathlib
import sys

from trainer.app import cli
from trainer.app import commands
from trainer.app import tune
from trainer.contract import record_spec

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI_PAGE = ROOT / 'docs' / 'cli.md'
DATA_PAGE = ROOT / 'docs' / 'data.md'
CONTRACT_BEGIN = '<!-- BEGIN GENERATED: record contract -->'
CONTRACT_END = '<!-- END GENERATED: record contract -->'
# argparse wraps --help to the terminal's width; the page must not depend on it.
HELP_COLUMNS = '80'

CLI_INTRO = """\
# `vqa` command-line reference

Every job's `--help`, generated from the parsers by
`python -m trainer.app.reference_docs`; a test fails when this page and the
parsers differ. The pages of [docs/](README.md) say what each job is for.
Flags are the fields of each job's config: `--config FILE` gives them as JSON
(the resolved config a job writes next to its outputs has that shape) and the
flags given on the command line override it ([configuration](configuration.md)).
"""


@contextlib.contextmanager
def _help_width():
  previous = os.environ.get('COLUMNS')
  os.environ['COLUMNS'] = HELP_COLUMNS
  try:
    yield
  finally:
    if previous is None:
      del os.environ['COLUMNS']
    else:
      os.environ['COLUMNS'] = previous


def _section(title, help_text):
  return f'## {title}\n\n```text\n{help_text.rstrip()}\n```\n'


def _tune_sections():
  parser = tune.build_parser()
  sections = [_section('vqa tune', parser.format_help())]
  for kind, sub in tune.kind_parsers(parser).items():
    sections.append(_section(f'vqa tune {kind}', sub.format_help()))
  return sections


def cli_page():
  """docs/cli.md as the parsers give it today."""
  with _help_width():
    sections = [CLI_INTRO, _section('vqa', cli.usage())]
    for name, (make_job, _) in commands.JOBS.items():
      parser = cli.job_parser(name, make_job())
      sections.append(_section(f'vqa {name}', parser.format_help()))
    sections += _tune_sections()
  return '\n'.join(sections)


def contract_table():
  """The feature table of the record contract, in markdown."""
  rows = ['| feature | type | length | meaning |', '|---|---|---|---|']
  rows += [f'| `{feature.name}` | {feature.dtype} | {feature.length} | '
           f'{feature.meaning} |' for feature in record_spec.FEATURES]
  return '\n'.join(rows)


def data_page(current):
  """docs/data.md with the table between its markers made anew."""
  if CONTRACT_BEGIN not in current or CONTRACT_END not in current:
    raise ValueError(f'{DATA_PAGE}: the markers {CONTRACT_BEGIN} and '
                     f'{CONTRACT_END} are missing')
  head, rest = current.split(CONTRACT_BEGIN, 1)
  _, tail = rest.split(CONTRACT_END, 1)
  return f'{head}{CONTRACT_BEGIN}\n{contract_table()}\n{CONTRACT_END}{tail}'


def pages():
  """{path: the text it should hold}."""
  return {CLI_PAGE: cli_page(),
          DATA_PAGE: data_page(DATA_PAGE.read_text(encoding='utf-8'))}


def stale_pages():
  """The generated pages whose text differs from what is generated today."""
  return [path for path, text in pages().items()
          if not path.exists() or path.read_text(encoding='utf-8') != text]


def main(argv=None):
  argv = sys.argv[1:] if argv is None else argv
  if argv == ['--check']:
    stale = stale_pages()
    for path in stale:
      print(f'{path.relative_to(ROOT)}: out of date; run python -m '
            'trainer.app.reference_docs', file=sys.stderr)
    return 1 if stale else 0
  for path, text in pages().items():
    path.write_text(text, encoding='utf-8')
    print(f'wrote {path.relative_to(ROOT)}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
