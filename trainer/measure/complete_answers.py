"""One answer for every question a results file must answer (a labelled
split's annotated ids, an unlabelled split's question ids: see
split_questions), whether it reached the records or not.

A question written to the records gets the model's answer ("model"). The
others (rejected for a missing or broken image, filtered out of the training
split, or a repeated id whose first record was rejected) get:
  "model without image"  the model's answer to the question text with a
                         uniform grey image, when the text is usable (a
                         question-only model counts as "model": it never
                         sees the image);
  "most common answer"   the training split's most common answer
                         (answers.json's first) otherwise, and for an
                         annotation whose question is not in the questions
                         file (no text to ask).
"""
import numpy as np
import tensorflow as tf

from trainer.serve import export
from trainer.data import input_pipeline

MODEL = 'model'
MODEL_WITHOUT_IMAGE = 'model without image'
MOST_COMMON_ANSWER = 'most common answer'
SOURCES = (MODEL, MODEL_WITHOUT_IMAGE, MOST_COMMON_ANSWER)
GREY = 128  # the blank image's pixel value: no image information


def answers_without_image(loaded, texts, batch_size=64):
  """The model's answers to `texts` with a uniform grey image.

  Tokenises like the serving signature (the records' WordPiece vocabulary).
  """
  encoder = export.RawInputEncoder(loaded.tokenizer_dir,
                                   loaded.max_question_tokens,
                                   loaded.image_size)
  answers = []
  for start in range(0, len(texts), batch_size):
    batch = tf.constant(texts[start:start + batch_size])
    input_ids, attention_mask = encoder.encode_questions(batch)
    inputs = {input_pipeline.INPUT_IDS: input_ids,
              input_pipeline.ATTENTION_MASK: attention_mask}
    if loaded.uses_image:
      size = loaded.image_size
      inputs[input_pipeline.IMAGE] = tf.fill(
          [int(batch.shape[0]), size, size, 3], tf.constant(GREY, tf.uint8))
    logits = loaded.model(inputs, training=False)
    answers += [loaded.answers[i] for i in np.argmax(logits.numpy(), axis=-1)]
  return answers


def complete(record_answers, split_questions, most_common_answer,
             answer_texts=None, image_free=False):
  """({question id: answer}, {question id: source}) for every id of
  `split_questions.answered_ids`.

  Args:
    record_answers: {question id: answer} of the questions in the records;
      ids outside the questions file are ignored.
    split_questions: the split's SplitQuestions.
    most_common_answer: the training split's most common answer.
    answer_texts: maps a list of question texts to the model's answers
      without image; None answers every missing question with
      `most_common_answer`.
    image_free: the model never uses the image, so its answer from the text
      alone is counted as "model".
  """
  answers, sources, to_ask = {}, {}, []
  for question_id in split_questions.answered_ids:
    text = split_questions.texts.get(question_id, '')
    if question_id in record_answers:
      answers[question_id] = record_answers[question_id]
      sources[question_id] = MODEL
    elif text and answer_texts is not None:
      to_ask.append(question_id)
      answers[question_id] = None  # filled below, keeping the file's order
    else:
      answers[question_id] = most_common_answer
      sources[question_id] = MOST_COMMON_ANSWER
  if to_ask:
    asked = answer_texts([split_questions.texts[i] for i in to_ask])
    for question_id, answer in zip(to_ask, asked):
      answers[question_id] = answer
      sources[question_id] = MODEL if image_free else MODEL_WITHOUT_IMAGE
  return answers, sources


def count_sources(sources):
  """{source: questions answered from it}, every source listed."""
  values = list(sources.values())
  return {source: values.count(source) for source in SOURCES}
