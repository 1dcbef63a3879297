"""The tagged outputs of the pipeline's steps.

Every question read produces exactly one outcome (written, filtered or rejected
with a reason) on the OUTCOMES output of the step that decides it; rejected
questions also go to the REJECTED output, which is written to rejected/.
"""
import apache_beam as beam

from beam_pipelines import accounting

OUTCOMES = 'outcomes'
REJECTED = 'rejected'
FILTERED = 'filtered'
METRICS_NAMESPACE = 'vqa_preprocess'


def rejection(split, question_id, image_id, reason, detail=''):
  return {'split': split, 'question_id': question_id, 'image_id': image_id,
          'reason': reason, 'detail': detail}


def reject(split, question_id, image_id, reason, detail=''):
  """The two tagged outputs of a rejected question."""
  yield beam.pvalue.TaggedOutput(
      REJECTED, rejection(split, question_id, image_id, reason, detail))
  yield beam.pvalue.TaggedOutput(
      OUTCOMES, accounting.outcome(split, accounting.REJECTED, reason))


def event(split, name):
  return beam.pvalue.TaggedOutput(
      OUTCOMES, accounting.outcome(split, accounting.EVENT, name))
