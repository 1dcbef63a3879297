"""Serving: the SavedModel export, TFLite conversion, predict and the web page."""
