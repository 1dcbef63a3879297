"""Checks of a preprocessing run before any work starts: the Beam options,
the numbers, the input files, and the output folder (refused if it holds an
earlier run)."""
import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import DebugOptions
from apache_beam.options.pipeline_options import DirectOptions
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines import layout
from trainer.contract import errors
from trainer.contract import record_spec


class ConfigError(errors.UserError):
  """The command line or the inputs it names cannot work."""


# Beam versions (major.minor) whose time-based data-buffer flush was shown to
# drop elements written during a flush (benchmarks/beam_flush_race.py).
FLUSH_RACE_BEAM_VERSIONS = ('2.77',)
_FLUSH_RACE = ("Beam {version}'s time-based data-buffer flush drops elements "
               'written while it flushes (records lost with exit status 0; '
               'benchmarks/beam_flush_race.py)')


def check_beam_args(beam_args, beam_version=beam.__version__):
  """Refuses the Beam options that lose records on this Beam version.

  Beam's own parser reads them, so `--flag=value`, `--flag value` and
  comma-separated experiments are all seen.
  """
  if '.'.join(beam_version.split('.')[:2]) not in FLUSH_RACE_BEAM_VERSIONS:
    return
  options = PipelineOptions(list(beam_args))
  reason = _FLUSH_RACE.format(version=beam_version)
  if options.view_as(DirectOptions).direct_running_mode == 'multi_threading':
    raise ConfigError(f'--direct_running_mode=multi_threading is refused: '
                      f'{reason}; use in_memory (the default) or '
                      f'multi_processing')
  limit = options.view_as(DebugOptions).lookup_experiment(
      'data_buffer_time_limit_ms')
  try:
    limit_ms = int(limit) if limit not in (None, True) else 0
  except ValueError as e:
    raise ConfigError(f'--experiments=data_buffer_time_limit_ms={limit}: '
                      'expected a whole number of milliseconds') from e
  if limit_ms > 0:
    raise ConfigError(f'--experiments=data_buffer_time_limit_ms={limit_ms} '
                      f'is refused: {reason}; leave it out (0, no time-based '
                      f'flush)')


def _check_numbers(config):
  if not config.splits or len(set(config.splits)) != len(config.splits):
    raise ConfigError(f'--splits {",".join(config.splits)!r}: give distinct '
                      'split names, the training split first')
  for name, value, minimum in (
      ('--top-answers', config.top_answers, 1),
      ('--max-question-tokens', config.max_question_tokens, 3),
      ('--image-size', config.image_size, 8),
      ('--num-shards', config.num_shards, 1),
      ('--max-image-pixels', config.max_image_pixels, 1)):
    if value < minimum:
      raise ConfigError(f'{name} must be >= {minimum}, got {value}')
  try:
    layout.image_filename('x', 1, config.image_pattern)
  except (KeyError, IndexError, ValueError) as e:
    raise ConfigError(f'--image-pattern {config.image_pattern!r}: use only '
                      '{split} and {image_id} ({e})') from e


def _check_inputs_exist(config):
  missing = []
  for split in config.splits:
    if not config.data_dir and split not in config.questions:
      raise ConfigError(f'{split}: give --data-dir or --questions {split}=PATH')
    paths = [config.questions_path(split)]
    if config.is_labelled(split):
      paths.append(config.annotations_path(split))
    missing += [path for path in paths if not FileSystems.exists(path)]
  if missing:
    raise ConfigError(
        'input files not found: ' + ', '.join(missing) + '. A split without '
        'annotations must be named test* or listed in --unlabelled-splits.')
  if not config.answers and not config.is_labelled(config.training_split):
    raise ConfigError(f'the first split ({config.training_split}) builds the '
                      'answer vocabulary and needs annotations; put a '
                      'labelled split first or pass --answers answers.json')


def _existing_outputs(config):
  patterns = [record_spec.metadata_path(config.output),
              record_spec.tokenizer_dir(config.output) + '/*']
  for split in config.splits:
    patterns.append(record_spec.shard_glob(config.output, split))
    patterns.append(record_spec.rejected_prefix(config.output, split) + '-*')
  found = []
  for pattern in patterns:
    for match in FileSystems.match([pattern])[0].metadata_list:
      found.append(match.path)
  return found


def prepare_output(config):
  existing = _existing_outputs(config)
  if existing and not config.overwrite:
    raise ConfigError(f'{config.output} already holds the output of a run '
                      f'({existing[0]}, ...); pass --overwrite to replace it')
  if existing:
    try:
      FileSystems.delete(existing)
    except Exception as e:  # pylint: disable=broad-except
      raise ConfigError(
          f'--overwrite: could not delete the earlier run\'s files in '
          f'{config.output} ({e}); delete them yourself (e.g. gcloud storage '
          f'rm -r {config.output}) and run again') from e


def validate(config):
  """Checks the configuration and the inputs before any work starts."""
  _check_numbers(config)
  _check_inputs_exist(config)
