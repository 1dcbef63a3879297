"""Checks of a preprocessing run before any work starts: the numbers, the
input files, and the output folder (refused if it holds an earlier run)."""
from apache_beam.io.filesystems import FileSystems

from beam_pipelines import layout
from beam_pipelines.preprocess_config import ConfigError
from trainer.contract import record_spec


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
