"""`vqa demo`: the whole flow on the embedded sample data, timed stage by stage.

  vqa demo --output demo_output

Stages today: sample data -> Beam preprocessing (TFRecords + accounting).
"""
import argparse
import dataclasses
import os
import shutil
import sys
import time

MARKER = '.vqa-demo'


@dataclasses.dataclass(frozen=True)
class DemoConfig:
  """Sizes chosen so the complete demo fits in minutes on a 2-core laptop."""
  output: str = 'demo_output'
  images_per_split: int = 300
  questions_per_image: int = 5
  image_size: int = 96
  num_shards: int = 4
  seed: int = 0


def _prepare_output(output):
  """Starts from an empty folder; only ever deletes an earlier demo's output."""
  if os.path.exists(output):
    if not os.path.exists(os.path.join(output, MARKER)):
      raise SystemExit(f'vqa demo: {output} exists and is not a demo output; '
                       'choose another --output')
    shutil.rmtree(output)
  os.makedirs(output)
  with open(os.path.join(output, MARKER), 'w') as f:
    f.write('written by vqa demo; deleted by the next vqa demo run\n')


def stage_sample_data(config, paths):
  from beam_pipelines import sample_data  # pylint: disable=g-import-not-at-top
  sample_data.generate(paths['raw'], sample_data.SampleDataConfig(
      images_per_split=config.images_per_split,
      image_size=config.image_size,
      questions_per_image=config.questions_per_image, seed=config.seed))
  return f'raw VQA v2 layout in {paths["raw"]}'


def stage_preprocess(config, paths):
  from beam_pipelines import accounting  # pylint: disable=g-import-not-at-top
  from beam_pipelines import preprocess  # pylint: disable=g-import-not-at-top
  preprocess_config = preprocess.PreprocessConfig(
      data_dir=paths['raw'], output=paths['tfrecords'],
      image_size=config.image_size, num_shards=config.num_shards)
  # A few thousand questions: the in-memory runner beats multi-processing,
  # whose workers each pay their own start-up.
  metadata, _ = preprocess.run_preprocess(
      preprocess_config, ['--direct_running_mode=in_memory'])
  return (accounting.format_summary(metadata['counts']) +
          f'\nTFRecords in {paths["tfrecords"]}')


STAGES = (
    ('sample data', stage_sample_data),
    ('preprocess (Beam)', stage_preprocess),
)


def run_demo(config):
  """Runs every stage; returns [(stage name, seconds)]."""
  _prepare_output(config.output)
  paths = {'raw': os.path.join(config.output, 'raw'),
           'tfrecords': os.path.join(config.output, 'tfrecords')}
  timings = []
  for name, stage in STAGES:
    print(f'== {name}', flush=True)
    start = time.monotonic()
    print(stage(config, paths), flush=True)
    timings.append((name, time.monotonic() - start))
    print(f'-- {name}: {timings[-1][1]:.1f} s\n', flush=True)
  return timings


def main(argv=None):
  defaults = DemoConfig()
  parser = argparse.ArgumentParser(prog='vqa demo', description=__doc__)
  parser.add_argument('--output', default=defaults.output)
  parser.add_argument('--images-per-split', type=int,
                      default=defaults.images_per_split)
  parser.add_argument('--seed', type=int, default=defaults.seed)
  args = parser.parse_args(argv)
  config = dataclasses.replace(defaults, output=args.output,
                               images_per_split=args.images_per_split,
                               seed=args.seed)
  timings = run_demo(config)
  print('stage timings:')
  for name, seconds in timings:
    print(f'  {name:<20}{seconds:7.1f} s')
  print(f'  {"total":<20}{sum(s for _, s in timings):7.1f} s')
  return 0


if __name__ == '__main__':
  sys.exit(main())
