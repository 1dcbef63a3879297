import os

# Before anything imports TensorFlow (the packages set it too; tests may
# import TensorFlow directly).
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
