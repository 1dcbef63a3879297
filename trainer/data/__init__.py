"""The input pipeline: TFRecords to batches, answer targets, split questions
for pages and reports."""
