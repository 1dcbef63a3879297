"""The tagged outputs of the pipeline's steps, and the counters that check
that nothing is lost between steps.

Every question read produces exactly one outcome (written, filtered or rejected
with a reason) on the OUTCOMES output of the step that decides it; rejected
questions also go to the REJECTED output, which is written to rejected/.

Each element handed from one step to the next is counted twice, by a Beam
counter in the step that sends it and in the step that receives it
(accounting.EDGES names the hand-overs). Counters travel on Beam's control
plane, apart from the data they count, so a hand-over that loses elements
(as Beam 2.77's time-based data-buffer flush can) shows as sent != received.
"""
import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_pipelines import accounting

OUTCOMES = 'outcomes'
REJECTED = 'rejected'
FILTERED = 'filtered'
METRICS_NAMESPACE = 'vqa_preprocess'


def sent(split, edge, n=1):
  """Counts `n` elements a step hands on over `edge`."""
  Metrics.counter(METRICS_NAMESPACE,
                  accounting.flow_counter(split, edge, 'sent')).inc(n)


def received(split, edge, n=1):
  """Counts `n` elements a step received over `edge`."""
  Metrics.counter(METRICS_NAMESPACE,
                  accounting.flow_counter(split, edge, 'received')).inc(n)


def outcome(split, kind, reason=''):
  """An outcome on the OUTCOMES output, counted as sent."""
  key = accounting.outcome(split, kind, reason)
  Metrics.counter(METRICS_NAMESPACE, accounting.sent_counter(key)).inc()
  return beam.pvalue.TaggedOutput(OUTCOMES, key)


def rejection(split, question_id, image_id, reason, detail=''):
  return {'split': split, 'question_id': question_id, 'image_id': image_id,
          'reason': reason, 'detail': detail}


def reject(split, question_id, image_id, reason, detail=''):
  """The two tagged outputs of a rejected question."""
  sent(split, accounting.REJECTED_EDGE)
  yield beam.pvalue.TaggedOutput(
      REJECTED, rejection(split, question_id, image_id, reason, detail))
  yield outcome(split, accounting.REJECTED, reason)


def event(split, name):
  return outcome(split, accounting.EVENT, name)
