"""The docs stay true: generated pages are current, every `vqa` command shown
parses with today's flags, every relative link resolves, the README stays a
landing page that reaches every job's page in one click."""
import pathlib
import re
import shlex

import pytest

from trainer.app import cli
from trainer.app import commands
from trainer.app import reference_docs
from trainer.app import tune

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / 'README.md'
DOCS = ROOT / 'docs'
README_LIMIT_BYTES = 12 * 1024
# Generated from the parsers: its usage lines are not commands to run.
GENERATED = {DOCS / 'cli.md'}
SHELL_ENDS = ('>', '>>', '|', '&&', '||', ';', '&', '2>&1')
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')


def pages():
  return [README] + sorted(DOCS.glob('*.md'))


def fenced_lines(text):
  """The lines inside ``` blocks, backslash continuations joined."""
  lines, inside, pending = [], False, ''
  for line in text.splitlines():
    if line.lstrip().startswith('```'):
      inside, pending = not inside, ''
      continue
    if not inside:
      continue
    if line.rstrip().endswith('\\'):
      pending += line.rstrip()[:-1] + ' '
      continue
    lines.append(pending + line)
    pending = ''
  return lines


def vqa_commands(text):
  """argv of every `vqa ...` line in the fenced blocks (`$ ` and trailing
  comments, redirections and pipes dropped)."""
  found = []
  for line in fenced_lines(text):
    line = line.strip()
    if line.startswith('$ '):
      line = line[2:]
    if not line.startswith('vqa '):
      continue
    words = shlex.split(line, comments=True)
    end = next((i for i, word in enumerate(words) if word in SHELL_ENDS),
               len(words))
    found.append(words[1:end])
  return found


def check_parses(argv):
  """Parses `vqa ARGV` as `vqa` would; raises what `vqa` would refuse."""
  if argv in (['--help'], ['--version']) or argv[-1:] == ['--help']:
    return
  name, rest = argv[0], argv[1:]
  if name == 'tune':
    parser = tune.build_parser()
    args, trainer_flags = parser.parse_known_args(rest)
    job = commands.JOBS[args.kind][0]()
    trainer_parser = cli.flags.build_parser('vqa tune', job.config_class,
                                            skip=job.skip)
    cli.flags.parse_strict(trainer_parser, trainer_flags,
                           also_known=tune.sweep_flag_names(parser, args.kind))
    return
  assert name in commands.JOBS, f'no job {name!r}'
  cli.parse_job(name, commands.JOBS[name][0](), rest)


def documented_commands():
  for page in pages():
    if page in GENERATED:
      continue
    for argv in vqa_commands(page.read_text(encoding='utf-8')):
      yield pytest.param(argv, id=f'{page.name}: vqa {" ".join(argv)[:60]}')


@pytest.mark.parametrize('argv', list(documented_commands()))
def test_every_documented_command_parses_with_todays_flags(argv):
  check_parses(argv)


def test_the_command_check_refuses_a_stale_flag():
  """Breaks a documented command on purpose: a typo must not parse."""
  [argv] = vqa_commands('```\nvqa preprocess --data-dir D --output O '
                        '--top-answer 12\n```\n')
  with pytest.raises(cli.flags.UnknownFlag, match='--top-answers'):
    check_parses(argv)


def test_there_are_documented_commands_for_every_job():
  shown = {argv[0] for page in pages() if page not in GENERATED
           for argv in vqa_commands(page.read_text(encoding='utf-8'))}
  assert set(commands.JOBS) | {'tune'} <= shown


def test_generated_pages_are_current():
  assert reference_docs.stale_pages() == []


def test_the_generated_check_sees_a_changed_table(tmp_path, monkeypatch):
  changed = tmp_path / 'data.md'
  text = reference_docs.DATA_PAGE.read_text(encoding='utf-8')
  changed.write_text(text.replace('COCO image id', 'an image id'),
                     encoding='utf-8')
  monkeypatch.setattr(reference_docs, 'DATA_PAGE', changed)
  assert changed in reference_docs.stale_pages()


def slug(heading):
  """GitHub's anchor of a markdown heading."""
  text = re.sub(r'[^\w\- ]', '', heading.strip().lower())
  return text.replace(' ', '-')


def anchors(page):
  return {slug(line.lstrip('#')) for line in
          page.read_text(encoding='utf-8').splitlines()
          if line.startswith('#')}


def broken_links(page):
  broken = []
  for target in LINK.findall(page.read_text(encoding='utf-8')):
    if re.match(r'[a-z]+:', target):
      continue  # http(s), mailto
    path, _, anchor = target.partition('#')
    resolved = (page.parent / path).resolve() if path else page
    if not resolved.exists():
      broken.append(target)
    elif anchor and resolved.suffix == '.md' and anchor not in anchors(
        resolved):
      broken.append(target)
  return broken


@pytest.mark.parametrize('page', pages(), ids=lambda page: page.name)
def test_every_relative_link_resolves(page):
  assert broken_links(page) == []


def test_the_link_check_sees_a_broken_link(tmp_path):
  page = tmp_path / 'page.md'
  page.write_text('# Title\n[ok](#title) [gone](missing.md) [bad](#nope)\n',
                  encoding='utf-8')
  assert broken_links(page) == ['missing.md', '#nope']


def test_the_readme_is_a_landing_page():
  assert len(README.read_bytes()) <= README_LIMIT_BYTES


def test_every_job_page_is_one_click_from_the_readme():
  linked = {target.partition('#')[0] for target in
            LINK.findall(README.read_text(encoding='utf-8'))}
  text = README.read_text(encoding='utf-8')
  for job in list(commands.JOBS) + ['tune']:
    row = next((line for line in text.splitlines()
                if line.startswith(f'| `vqa {job}')), None)
    assert row, f'the jobs table has no row for vqa {job}'
    assert LINK.search(row), f'vqa {job}: its row links to no page'
  assert 'docs/cli.md' in linked
