"""The input pipeline: TFRecords to batches, answer targets, cached encoder features, split questions for pages and reports."""
