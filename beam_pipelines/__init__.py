# Importing trainer first sets TF_USE_LEGACY_KERAS before TensorFlow loads.
import trainer  # pylint: disable=unused-import
