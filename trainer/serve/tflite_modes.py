"""The TFLite conversion modes of `vqa export-tflite --quantize` (what each
does: trainer/serve/tflite_export.py); no TensorFlow import."""
QUANTIZE_MODES = ('none', 'dynamic', 'int8')
