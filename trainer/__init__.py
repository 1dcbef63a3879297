import os

# tfmot and transformers' TensorFlow models need Keras 2 (tf-keras); the switch
# only works if it is set before TensorFlow is first imported in the process,
# and every process (CLI, tests, Beam and Ray workers) imports this package
# before TensorFlow.
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
