"""Checks of a preprocessing run: before any work starts, the Beam options,
the numbers, the input files, and the output folder (refused if it holds an
earlier run); after the run, its accounting (check_run)."""
import sys

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import DebugOptions
from apache_beam.options.pipeline_options import DirectOptions
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines import accounting
from beam_pipelines import layout
from beam_pipelines.preprocess_config import ConfigError
from trainer.contract import record_spec


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


def _missing_annotation_problems(counts, config):
  problems = []
  for split in config.splits:
    share = accounting.missing_annotation_share(counts[split])
    if (config.is_labelled(split) and not config.allow_missing_annotations
        and share > accounting.MAX_MISSING_ANNOTATION_SHARE):
      n = counts[split]['rejected'][accounting.MISSING_ANNOTATION]
      problems.append(
          f'{split}: {n} of {counts[split]["questions"]} questions '
          f'({share:.1%}) have no annotation in '
          f'{config.annotations_path(split)}; check that it and '
          f'{config.questions_path(split)} are the same split\'s files, or '
          f'pass --allow-missing-annotations if this is expected')
  return problems


def _set_aside_metadata(output):
  """Renames metadata.json so that no later step takes the output for good."""
  path = record_spec.metadata_path(output)
  failed = path[:-len('.json')] + '.failed.json'
  FileSystems.rename([path], [failed])
  return failed


def check_metadata_written(config):
  """Raises AccountingError unless the run's last step wrote metadata.json
  (it does not when the outcome counts never reach it)."""
  path = record_spec.metadata_path(config.output)
  if not FileSystems.exists(path):
    raise accounting.AccountingError(
        f'elements were lost between steps, so the output is not to be '
        f'trusted: WriteMetadata wrote no {path} (the counts of the '
        f'outcomes never reached it)')


def check_run(metadata, counters, config, vocabulary_reused):
  """Raises AccountingError, after setting metadata.json aside, when the
  run lost elements between steps or a labelled split lacks annotations."""
  losses = accounting.find_losses(
      metadata.counts, counters, config.num_shards,
      None if vocabulary_reused else config.training_split,
      [split for split in config.splits if config.is_labelled(split)])
  problems = losses or _missing_annotation_problems(metadata.counts, config)
  if not problems:
    return
  print(accounting.format_summary(metadata.counts), file=sys.stderr)
  for problem in problems:
    print(f'[preprocess] {problem}', file=sys.stderr)
  failed = _set_aside_metadata(config.output)
  more = f' (and {len(problems) - 1} more above)' if len(problems) > 1 else ''
  what = ('elements were lost between steps, so the output is not to be '
          'trusted: ' if losses else '')
  raise accounting.AccountingError(
      f'{what}{problems[0]}{more}; metadata.json set aside as {failed}')
