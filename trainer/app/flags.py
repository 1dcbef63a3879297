"""Command-line flags generated from a job's config dataclass.

Every field becomes a flag named --field-name, typed by its default (or its
annotation); a field holding a dataclass (TrainConfig.model) contributes its
own fields' flags, under their own names. A config field may refine its flag
with `dataclasses.field(metadata={...})`, using only these keys:

  help        the flag's help text
  choices     the values allowed
  flag        the flag's name when it is not --field-name (e.g. '--model')
  negative    bool fields defaulting to None: the flag that sets False
  type        converts the flag's one argument (e.g. a comma-separated list)
  nargs       tuple fields without `type`: argparse's nargs (default '+')
  const       the value of the flag given without an argument
  repeat      True: the flag may be repeated; its values come as a list
  parse       turns the flag's value into the field's (e.g. MiB -> bytes)
  metavar     the placeholder --help shows
  positional  True: a positional argument instead of a flag
  required    the job needs a value, from the command line or --config
  folder      True: a trailing '/' is dropped
  cli         False: no flag; only --config sets it
  deprecated  old names of the flag, still accepted with a one-line note
  deprecated_positional  True: the value may also come as the old positional
              argument (with the same note)

Every job also takes --config FILE: JSON of the config's fields, the shape of
the resolved config a job writes. A config is the defaults, overridden by the
file, overridden by the flags given (`build_config`).
"""
import argparse
import dataclasses
import difflib
import json
import os
import sys

from trainer.contract import errors

CONFIG_FLAG = '--config'
REQUIRED_GROUP = f'required (on the command line or in {CONFIG_FLAG} FILE)'


class UnknownFlag(errors.UserError):
  """A flag no parser of the job knows."""


class JobParser(argparse.ArgumentParser):
  """argparse's own refusals (a value outside the choices, a flag without
  its value) as one line, like every other user error."""

  def error(self, message):
    raise errors.UserError(f'{message} ({self.prog} --help shows the flags)')


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
  """Usage shows the flags a job needs without brackets, although argparse
  does not enforce them: they may come from --config FILE instead."""

  def _format_usage(self, usage, actions, groups, prefix):
    needed = [action for action in actions
              if getattr(action, 'needed', False) and not action.required]
    for action in needed:
      action.required = True
    try:
      return super()._format_usage(usage, actions, groups, prefix)
    finally:
      for action in needed:
        action.required = False


class DeprecatedName(argparse.Action):
  """An old name of a flag: sets the same field, with a one-line note. An
  old positional keeps its own dest (FIELD_positional): given_fields
  resolves it, refusing it next to the flag that replaces it."""

  def __init__(self, option_strings, dest, replacement='', **kwargs):
    super().__init__(option_strings, dest, **kwargs)
    self.replacement = replacement

  def __call__(self, parser, namespace, values, option_string=None):
    old = option_string or f'the positional {self.metavar}'
    print(f'{parser.prog}: note: {old} is deprecated; use '
          f'{self.replacement}', file=sys.stderr)
    setattr(namespace, self.dest, values)


def walk(cls, prefix=()):
  """(field path, field, default) of every leaf field, nested ones included."""
  defaults = cls()
  for field in dataclasses.fields(cls):
    default = getattr(defaults, field.name)
    if dataclasses.is_dataclass(default):
      yield from walk(type(default), prefix + (field.name,))
    else:
      yield prefix + (field.name,), field, default


def flag_name(path, field):
  return field.metadata.get('flag', '--' + path[-1].replace('_', '-'))


def _value_type(field, default):
  if field.type in (int, float, str, bool):
    return field.type
  return type(default)


def _help(field, default):
  text = field.metadata.get('help', '')
  if ('parse' in field.metadata or isinstance(default, dict) or
      default is None or default is False or default == ''):
    return text or None
  shown = default
  if isinstance(default, tuple):
    shown = (','.join if 'type' in field.metadata else ' '.join)(
        map(str, default)) or 'none'
  return f'{text} (default: {shown})' if text else f'default: {shown}'


def _bool_arguments(parser, name, dest, field, default, help_text):
  negative = field.metadata.get('negative')
  if default is None and negative:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(name, dest=dest, action='store_const', const=True,
                       default=argparse.SUPPRESS, help=help_text)
    group.add_argument(negative, dest=dest, action='store_const', const=False,
                       default=argparse.SUPPRESS)
  elif default is False:
    parser.add_argument(name, dest=dest, action='store_true',
                        default=argparse.SUPPRESS, help=help_text)
  else:
    parser.add_argument(name, dest=dest, action=argparse.BooleanOptionalAction,
                        default=argparse.SUPPRESS, help=help_text)


def _argument_options(flag, field, default):
  """argparse keywords of a field's flag that are not about booleans."""
  meta = field.metadata
  options = {key: meta[key] for key in ('choices', 'metavar') if key in meta}
  if 'choices' not in meta:
    options.setdefault('metavar', flag[2:].upper().replace('-', '_'))
  if meta.get('repeat'):
    options['action'] = 'append'
  elif 'type' in meta:
    options['type'] = meta['type']
  elif isinstance(default, tuple):
    options['nargs'] = meta.get('nargs', '+')
    options['type'] = type(default[0]) if default else str
  else:
    options['type'] = _value_type(field, default)
  if 'const' in meta:
    options.update(nargs='?', const=meta['const'])
  return options


def _add_deprecated_names(parser, flag, dest, field, options):
  """The field's old flag names (and old positional), hidden from --help."""
  kept = {key: value for key, value in options.items()
          if key in ('type', 'choices', 'metavar', 'nargs')}
  for old in field.metadata.get('deprecated', ()):
    parser.add_argument(old, dest=dest, action=DeprecatedName,
                        replacement=flag, default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS, **kept)
  if field.metadata.get('deprecated_positional'):
    kept.pop('nargs', None)
    kept.setdefault('metavar', dest.upper())
    parser.add_argument(f'{dest}_positional', nargs='?', action=DeprecatedName,
                        replacement=flag,
                        default=argparse.SUPPRESS, help=argparse.SUPPRESS,
                        **kept)


def add_config_flags(parser, cls, skip=(), config_flag=True):
  """Adds a flag per field of `cls` (except the names in `skip`), and
  --config FILE unless `config_flag` is False."""
  required_group = None
  for path, field, default in walk(cls):
    if field.metadata.get('cli', True) is False or path[-1] in skip:
      continue
    dest, flag = '.'.join(path), flag_name(path, field)
    help_text = _help(field, default)
    options = _argument_options(flag, field, default)
    target = parser
    if field.metadata.get('required'):
      required_group = required_group or parser.add_argument_group(
          REQUIRED_GROUP)
      target = required_group
    if field.metadata.get('positional'):
      action = target.add_argument(
          dest, nargs='?', default=argparse.SUPPRESS, help=help_text,
          **{key: value for key, value in options.items() if key != 'nargs'})
    elif _value_type(field, default) is bool or default is None:
      _bool_arguments(target, flag, dest, field, default, help_text)
      continue
    else:
      action = target.add_argument(flag, dest=dest, default=argparse.SUPPRESS,
                                   help=help_text, **options)
    action.needed = bool(field.metadata.get('required'))
    _add_deprecated_names(parser, flag, dest, field, options)
  if not config_flag:
    return
  parser.add_argument(CONFIG_FLAG, default='', metavar='FILE',
                      help=f'JSON of {cls.__name__} fields (e.g. a resolved '
                      'config written by an earlier run); flags given '
                      'override it')


def read_json(path):
  """The JSON in `path` (local or gs://), naming the file when it fails."""
  if '://' in path:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    opener, exists = tf.io.gfile.GFile, tf.io.gfile.exists
  else:
    opener, exists = open, os.path.exists
  if not exists(path):
    raise errors.MissingInput(f'{path}: not found')
  with opener(path) as f:
    try:
      return json.load(f)
    except json.JSONDecodeError as e:
      raise errors.UserError(f'{path}: not valid JSON ({e})') from e


def to_dict(config):
  """A config as the JSON-ready dict written next to a job's outputs."""
  return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def write_config(config, path):
  """Writes the resolved config (a dataclass or a dict of them as dicts) to
  `path`, local or gs://; returns `path`."""
  value = (dataclasses.asdict(config) if dataclasses.is_dataclass(config)
           else config)
  text = json.dumps(value, indent=2, sort_keys=True, default=str)
  if '://' in path:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, 'w') as f:
      f.write(text)
  else:
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    with open(path, 'w') as f:
      f.write(text)
  return path


def _unknown_keys(cls, values, prefix=''):
  """Dotted names in `values` that are no field of `cls` (nested included)."""
  defaults = cls()
  names = {field.name for field in dataclasses.fields(cls)}
  unknown = [prefix + key for key in values if key not in names]
  for key in set(values) & names:
    default = getattr(defaults, key)
    if dataclasses.is_dataclass(default) and isinstance(values[key], dict):
      unknown += _unknown_keys(type(default), values[key], f'{prefix}{key}.')
  return unknown


def _as_tuple(value):
  if isinstance(value, (list, tuple)):
    return tuple(_as_tuple(item) for item in value)
  return value


def from_dict(cls, values):
  """cls from a (possibly partial) dict of its fields; JSON lists -> tuples."""
  defaults, fields = cls(), {}
  for field in dataclasses.fields(cls):
    if field.name not in values:
      continue
    default, value = getattr(defaults, field.name), values[field.name]
    if dataclasses.is_dataclass(default) and isinstance(value, dict):
      value = from_dict(type(default), value)
    elif isinstance(default, tuple):
      value = _as_tuple(value)
    elif field.metadata.get('folder') and isinstance(value, str):
      value = value.rstrip('/') or value
    fields[field.name] = value
  return cls(**fields)


def merge(values, overrides):
  """`values` with `overrides` laid over it, nested dicts merged key by key."""
  merged = dict(values)
  for key, value in overrides.items():
    if isinstance(value, dict) and isinstance(merged.get(key), dict):
      value = merge(merged[key], value)
    merged[key] = value
  return merged


_NOT_GIVEN = object()


def _given_value(namespace, dest, flag):
  """The field's value from its flag or its old positional (_NOT_GIVEN
  when neither came); a UserError when both came: which one was meant
  cannot be known."""
  value = getattr(namespace, dest, _NOT_GIVEN)
  positional = getattr(namespace, f'{dest}_positional', _NOT_GIVEN)
  if positional is _NOT_GIVEN:
    return value
  if value is not _NOT_GIVEN:
    raise errors.UserError(
        f'{flag} {value} and the positional {positional} both give '
        f'{flag}; give it once (the positional form is deprecated)')
  return positional


def given_fields(cls, namespace):
  """Nested dict of the fields set by flags on the command line."""
  given = {}
  for path, field, _ in walk(cls):
    value = _given_value(namespace, '.'.join(path), flag_name(path, field))
    if value is _NOT_GIVEN:
      continue
    if 'parse' in field.metadata:
      value = field.metadata['parse'](value)
    node = given
    for key in path[:-1]:
      node = node.setdefault(key, {})
    node[path[-1]] = value
  return given


def _check_required(config, cls):
  """Returns `config`; a UserError naming every required field left empty."""
  missing = []
  for path, field, _ in walk(cls):
    value = config
    for key in path:
      value = getattr(value, key)
    if field.metadata.get('required') and not value:
      missing.append(path[-1].upper() if field.metadata.get('positional')
                     else flag_name(path, field))
  if missing:
    raise errors.UserError(
        f'missing {", ".join(missing)} (required, on the command line or in '
        f'{CONFIG_FLAG} FILE)')
  return config


def build_config(cls, namespace, base=None):
  """The job's config: defaults, then `base` (a preset's fields), then
  --config's file, then the flags given.

  Raises:
    ValueError: the file has keys that are no field of `cls`, is not JSON,
      or a required field has no value.
    FileNotFoundError: the --config file does not exist.
  """
  values = {}
  path = getattr(namespace, 'config', '')
  if path:
    values = read_json(path)
    if not isinstance(values, dict):
      raise errors.UserError(f'{path}: expected a JSON object of {cls.__name__} '
                       'fields')
    unknown = _unknown_keys(cls, values)
    if unknown:
      raise errors.UserError(f'{path}: unknown {cls.__name__} fields '
                       f'{sorted(unknown)}')
  values = merge(merge(base or {}, values), given_fields(cls, namespace))
  return _check_required(from_dict(cls, values), cls)


def build_parser(prog, cls, description=None, skip=()):
  """An argparse parser for a job whose config is `cls`."""
  parser = JobParser(
      prog=prog, description=description, allow_abbrev=False,
      formatter_class=HelpFormatter)
  add_config_flags(parser, cls, skip)
  return parser


def option_names(parser):
  """Every flag the parser shows in --help (deprecated names left out)."""
  return [name for action in parser._actions  # pylint: disable=protected-access
          if action.help != argparse.SUPPRESS
          for name in action.option_strings]


def unknown_flag(argument, known):
  """The UnknownFlag for `argument`, naming the closest of `known` flags."""
  name = argument.split('=', 1)[0]
  if not name.startswith('-'):
    return UnknownFlag(f'unexpected argument {argument!r}')
  close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
  hint = f'; did you mean {close[0]}?' if close else ''
  return UnknownFlag(f'unknown flag {name}{hint}')


def parse_strict(parser, argv, pass_on=None, also_known=()):
  """(namespace, arguments passed on): every argument is the parser's, or
  one that `pass_on(arguments) -> (refused, flag names)` accepts (Beam's
  pipeline options); otherwise UnknownFlag naming the first stray one and the
  closest flag among the parser's, `pass_on`'s and `also_known`."""
  args, unknown = parser.parse_known_args(argv)
  if not unknown:
    return args, []
  refused, other_names = pass_on(unknown) if pass_on else (unknown, ())
  if refused:
    stray = next((item for item in refused if item.startswith('-')),
                 refused[0])
    raise unknown_flag(stray, option_names(parser) + list(other_names) +
                       list(also_known))
  return args, unknown
