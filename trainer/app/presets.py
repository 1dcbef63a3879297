"""Named presets: job config fields chosen for a purpose, laid under --config.

  tiny  seconds-long jobs on about 150 questions per split: what the tests use
  demo  the jobs of `vqa demo`: minutes on a 2-core laptop, no downloads

A preset gives, per job, some of its config's fields (nested fields as nested
dicts); `vqa JOB --preset NAME` starts from them, then --config's file, then
the flags given. Plain data only, so reading a preset imports nothing.
"""
from trainer.app import flags
from trainer.contract import errors

TINY_IMAGE_SIZE = 32
TINY_IMAGE_ALPHA = 0.35
# The demo's images: small enough for MobileNetV2 trained from scratch within
# minutes on CPU.
DEMO_IMAGE_SIZE = 32
# test2015 has no annotations, as in the official download: the teacher's
# answers are all the student learns from it.
DEMO_SPLITS = ('train2014', 'val2014', 'test2015')
DEMO_UNLABELLED_SPLITS = ('test2015',)

# Tiny random BERT, MobileNetV2 x0.35 trained from random weights.
TINY_MODEL = dict(text_encoder='tiny', image_weights='none',
                  image_alpha=TINY_IMAGE_ALPHA, image_trainable=True,
                  fusion_width=16, hidden_width=16, dropout=0.0)
TINY_STUDENT = dict(embedding_dim=8, text_width=8, image_filters=(8, 8),
                    fusion_width=8, hidden_width=8, dropout=0.0)
TINY_FIT = dict(epochs=1, batch_size=16, learning_rate=3e-3,
                deterministic=True, verbose=0)

# The teacher and the student train with the defaults of `vqa train` and
# `vqa distill`: only sizes and times are set. ImageNet weights need network
# access, so the image encoder starts from random weights, which the
# defaults train.
DEMO_EPOCHS = 8
# The students (distilled and alone): at 6 epochs the distilled student was
# still rising at 96.5% of its teacher, at 8 it reached 99.0%
# (benchmarks/HISTORY.md, "The student's halving").
DEMO_STUDENT_EPOCHS = 8

PRESETS = {
    'tiny': {
        'sample-data': dict(images_per_split=30, image_size=TINY_IMAGE_SIZE,
                            seed=1),
        'preprocess': dict(image_size=TINY_IMAGE_SIZE, num_shards=2,
                           max_question_tokens=16),
        'train': dict(TINY_FIT, model=TINY_MODEL, strategy='auto'),
        'distill': dict(TINY_FIT, student=TINY_STUDENT, export=False),
        'prune': dict(TINY_FIT, export=False),
        'report': dict(latency_repeats=1),
    },
    'demo': {
        'sample-data': dict(images_per_split=800, questions_per_image=5,
                            splits=DEMO_SPLITS, image_size=DEMO_IMAGE_SIZE),
        'preprocess': dict(splits=DEMO_SPLITS, image_size=DEMO_IMAGE_SIZE,
                           num_shards=4),
        'train': dict(model=dict(image_weights='none'), epochs=DEMO_EPOCHS,
                      early_stopping_patience=DEMO_EPOCHS, verbose=2),
        'distill': dict(unlabelled_splits=DEMO_UNLABELLED_SPLITS,
                        epochs=DEMO_STUDENT_EPOCHS,
                        early_stopping_patience=DEMO_STUDENT_EPOCHS,
                        verbose=2),
        'prune': dict(final_sparsity=0.8, epochs=3, end_fraction=0.5,
                      verbose=2),
        'report': dict(latency_repeats=10),
    },
}


def preset_fields(name, job):
  """The fields preset `name` gives `job` ({} when it gives none)."""
  if name not in PRESETS:
    raise errors.UserError(f'--preset {name!r}: one of {sorted(PRESETS)}')
  return PRESETS[name].get(job, {})


def has_fields(job):
  """Whether some preset gives `job` fields (only then does it take
  --preset)."""
  return any(job in jobs for jobs in PRESETS.values())


def job_config(name, job, config_class, **fields):
  """config_class from preset `name`'s fields for `job`, then `fields`.

  A nested config given as a dict (model=dict(kind=...)) overrides only the
  preset's fields it names; given as a dataclass, all of them.
  """
  return flags.from_dict(config_class, flags.merge(
      preset_fields(name, job), fields))
