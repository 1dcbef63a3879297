"""Results files the official evaluator accepts: one answer for every question
of the split, even those preprocessing rejected, filtered or saw twice; the
printed "all" accuracy is the official figure for that file."""
import json
import os

import pytest

from beam_pipelines import accounting
from beam_pipelines import layout
from beam_pipelines import preprocess
from beam_pipelines import sample_data
from tests.beam_pipelines import image_files
from tests.beam_pipelines import vqa_files
from tests.trainer.conftest import IMAGE_SIZE
from trainer.app import cli
from trainer.measure import complete_answers
from trainer.contract import record_spec
from trainer.models import model_io
from trainer.measure import results_file
from trainer.measure import split_questions
from trainer.contract import vqa_metric

VAL = 'val2014'
TEST = 'test2015'


# The official rule, written from VQA.loadRes and VQAEval.evaluate.


def assert_official_evaluator_loads(results, annotated_ids):
  """loadRes: a list of {question_id, answer: str}, exactly the annotated
  ids, each once."""
  assert isinstance(results, list)
  ids = [entry['question_id'] for entry in results]
  assert len(ids) == len(set(ids)), 'a question answered twice'
  assert set(ids) == set(annotated_ids)
  assert all(isinstance(entry['answer'], str) for entry in results)


def official_overall_accuracy(results, annotations):
  """Mean over annotated questions of the mean, over each human answer left
  out, of min(1, matching other answers / 3)."""
  answer_of = {entry['question_id']: entry['answer'] for entry in results}
  accuracies = []
  for annotation in annotations:
    predicted = vqa_metric.normalize_answer(
        answer_of[annotation['question_id']])
    humans = annotation['answers']
    per_left_out = []
    for left_out in humans:
      others = [h for h in humans if h is not left_out]
      matching = [h for h in others
                  if vqa_metric.normalize_answer(h['answer']) == predicted]
      per_left_out.append(min(1.0, len(matching) / 3))
    accuracies.append(sum(per_left_out) / len(per_left_out))
  return sum(accuracies) / len(accuracies)


# A small data set with broken inputs.


def _read_json(path):
  with open(path) as f:
    return json.load(f)


def _write_json(value, path):
  with open(path, 'w') as f:
    json.dump(value, f)


def _image_path(raw, split, image_id):
  return os.path.join(raw, split, layout.image_filename(split, image_id))


def _damage_split(raw, split, labelled):
  """Two images deleted, one truncated, a repeated id, a question without
  text (annotated, so that it still counts) and, when labelled, a question
  whose answers are all outside any vocabulary."""
  questions_path = layout.questions_path(raw, split)
  data = _read_json(questions_path)
  questions = data['questions']
  image_ids = sorted({q['image_id'] for q in questions})
  for image_id in image_ids[:2]:
    os.remove(_image_path(raw, split, image_id))
  with open(_image_path(raw, split, image_ids[2]), 'wb') as f:
    f.write(image_files.truncated_jpeg())
  repeated = dict(questions[-1], question='Is this the same question again?')
  new_id = max(q['question_id'] for q in questions) + 1
  questions += [repeated, {'question_id': new_id, 'image_id': image_ids[-1],
                           'question': '   '}]
  _write_json(data, questions_path)
  if labelled:
    annotations_path = layout.annotations_path(raw, split)
    annotations = _read_json(annotations_path)
    annotations['annotations'][0]['answers'] = vqa_files.human_answers(
        ['zebra crossing'] * 10)
    annotations['annotations'].append(dict(
        annotations['annotations'][-1], question_id=new_id,
        image_id=image_ids[-1]))
    _write_json(annotations, annotations_path)


@pytest.fixture(scope='module')
def damaged_records(tiny_records, tmp_path_factory):
  """val2014 and test2015 with rejected questions, encoded with the tiny
  teacher's vocabulary; val2014 comes first, so that it also filters the
  questions whose answer is outside the vocabulary."""
  raw = str(tmp_path_factory.mktemp('damaged_raw'))
  sample_data.generate(raw, sample_data.SampleDataConfig(
      images_per_split=8, image_size=IMAGE_SIZE, seed=2,
      splits=(VAL, TEST)))
  _damage_split(raw, VAL, labelled=True)
  _damage_split(raw, TEST, labelled=False)
  output = str(tmp_path_factory.mktemp('damaged_records'))
  preprocess.run_preprocess(preprocess.PreprocessConfig(
      data_dir=raw, output=output, splits=(VAL, TEST),
      answers=record_spec.answers_path(tiny_records), image_size=IMAGE_SIZE,
      num_shards=1, max_question_tokens=16),
      ['--direct_running_mode=in_memory'])
  return raw, output


@pytest.fixture(scope='module')
def val_evaluation(damaged_records, tiny_teacher, tmp_path_factory):
  raw, records = damaged_records
  folder = tmp_path_factory.mktemp('val_evaluation')
  results, metrics = str(folder / 'results.json'), str(folder / 'eval.json')
  code = cli.main(['evaluate', '--model', tiny_teacher, '--data', records,
                   '--split', VAL, '--results', results, '--output', metrics])
  assert code == 0
  return raw, records, _read_json(results), model_io.read_json(metrics)


def test_the_split_really_has_rejected_filtered_and_repeated_questions(
    damaged_records):
  _, records = damaged_records
  counts = _read_json(record_spec.metadata_path(records))['counts'][VAL]
  rejected = counts[accounting.REJECTED]
  assert rejected.get(accounting.MISSING_IMAGE, 0) > 0
  assert rejected.get(accounting.TRUNCATED_IMAGE, 0) > 0
  assert rejected[accounting.DUPLICATE_QUESTION_ID] == 1
  assert rejected[accounting.EMPTY_QUESTION] == 1
  assert counts[accounting.FILTERED].get(
      accounting.ANSWER_NOT_IN_VOCABULARY, 0) > 0


def test_results_answer_every_annotated_question_once(val_evaluation):
  raw, _, results, metrics = val_evaluation
  annotations = _read_json(layout.annotations_path(raw, VAL))['annotations']
  assert_official_evaluator_loads(results, [a['question_id']
                                            for a in annotations])
  questions = _read_json(layout.questions_path(raw, VAL))['questions']
  distinct = {q['question_id'] for q in questions}
  assert len(results) == len(distinct) < len(questions)
  answered_by = metrics['reports']['model']['answered_by']
  assert sum(answered_by.values()) == len(distinct)
  written = metrics['reports']['model']['questions_written']
  assert answered_by[complete_answers.MODEL] == written < len(distinct)
  # Rejected images and filtered answers: the text is there.
  assert answered_by[complete_answers.MODEL_WITHOUT_IMAGE] > 0
  # The question without text.
  assert answered_by[complete_answers.MOST_COMMON_ANSWER] == 1
  assert metrics['results_file'].endswith('results.json')


def test_all_accuracy_is_the_official_figure_of_the_results_file(
    val_evaluation):
  raw, _, results, metrics = val_evaluation
  annotations = _read_json(layout.annotations_path(raw, VAL))['annotations']
  official = official_overall_accuracy(results, annotations)
  model = metrics['reports']['model']
  assert model['vqa_accuracy']['all'] == pytest.approx(official, abs=1e-9)
  assert model['questions_scored'] == len(annotations)
  majority = metrics['reports']['majority_answer']
  assert majority['vqa_accuracy']['all'] == pytest.approx(
      official_overall_accuracy(
          [{'question_id': a['question_id'], 'answer': majority['answer']}
           for a in annotations], annotations), abs=1e-9)


def test_evaluate_prints_the_official_figure_and_the_answer_sources(
    damaged_records, tiny_teacher, tmp_path, capsys):
  raw, records = damaged_records
  results = tmp_path / 'results.json'
  assert cli.main(['evaluate', '--model', tiny_teacher, '--data', records,
                   '--split', VAL, '--results', str(results),
                   '--output', str(tmp_path / 'eval.json')]) == 0
  out = capsys.readouterr().out
  annotations = _read_json(layout.annotations_path(raw, VAL))['annotations']
  official = official_overall_accuracy(_read_json(results), annotations)
  model_row = next(line for line in out.splitlines()
                   if line.startswith('model '))
  assert float(model_row.split()[3]) == pytest.approx(official, abs=5e-5)
  assert 'model answered by: model ' in out
  assert 'model without image' in out and 'most common answer 1' in out


def test_test_split_submission_is_complete_and_has_no_accuracy(
    damaged_records, tiny_teacher, tmp_path, capsys):
  raw, records = damaged_records
  results = tmp_path / 'vqa_test2015_tiny_results.json'
  metrics = tmp_path / 'eval.json'
  assert cli.main(['evaluate', '--model', tiny_teacher, '--data', records,
                   '--split', TEST, '--results', str(results),
                   '--output', str(metrics)]) == 0
  questions = _read_json(layout.questions_path(raw, TEST))['questions']
  submission = _read_json(results)
  assert_official_evaluator_loads(submission,
                                  [q['question_id'] for q in questions])
  report = model_io.read_json(str(metrics))['reports']['model']
  assert 'vqa_accuracy' not in report
  assert report['answered_by'][complete_answers.MODEL_WITHOUT_IMAGE] > 0
  assert 'no annotations, no accuracy' in capsys.readouterr().out


def test_a_questions_subset_gets_exactly_its_questions(
    damaged_records, tiny_teacher, tmp_path):
  """Like test-dev2015: a subset of test2015's questions, in its own file."""
  raw, records = damaged_records
  questions = _read_json(layout.questions_path(raw, TEST))['questions']
  subset = questions[::3]
  subset_path = tmp_path / 'v2_OpenEnded_mscoco_test-dev2015_questions.json'
  _write_json({'questions': subset}, subset_path)
  results = tmp_path / 'vqa_test-dev2015_tiny_results.json'
  assert cli.main(['evaluate', '--model', tiny_teacher, '--data', records,
                   '--split', TEST, '--questions', str(subset_path),
                   '--results', str(results),
                   '--output', str(tmp_path / 'eval.json')]) == 0
  assert_official_evaluator_loads(_read_json(results),
                                  [q['question_id'] for q in subset])


def test_a_labelled_pair_that_disagrees_gets_exactly_the_annotated_ids(
    damaged_records, tiny_teacher, tmp_path, capsys):
  """One question without annotation, one annotation without question: the
  file answers the annotated ids, as VQA.loadRes asserts."""
  raw, records = damaged_records
  questions = _read_json(layout.questions_path(raw, VAL))
  annotations = _read_json(layout.annotations_path(raw, VAL))
  questions['questions'].append(dict(
      questions['questions'][0], question_id=990001,
      question='Is this question annotated?'))
  annotations['annotations'].append(dict(annotations['annotations'][0],
                                         question_id=990002))
  questions_path = tmp_path / 'questions.json'
  annotations_path = tmp_path / 'annotations.json'
  _write_json(questions, questions_path)
  _write_json(annotations, annotations_path)
  results, metrics_path = tmp_path / 'results.json', tmp_path / 'eval.json'
  assert cli.main(['evaluate', '--model', tiny_teacher, '--data', records,
                   '--split', VAL, '--questions', str(questions_path),
                   '--annotations', str(annotations_path),
                   '--results', str(results),
                   '--output', str(metrics_path)]) == 0
  written = _read_json(results)
  assert_official_evaluator_loads(
      written, [a['question_id'] for a in annotations['annotations']])
  metrics = model_io.read_json(str(metrics_path))
  assert metrics['questions_without_annotation_ids'] == [990001]
  assert metrics['annotations_without_question_ids'] == [990002]
  model = metrics['reports']['model']
  assert model['vqa_accuracy']['all'] == pytest.approx(
      official_overall_accuracy(written, annotations['annotations']),
      abs=1e-9)
  out = capsys.readouterr().out
  assert ('1 questions without annotation (ids 990001) are not scored and '
          'not in the results file') in out
  assert ('1 annotations without question (ids 990002) are scored with the '
          'most common answer and in the results file') in out
  assert 'refuses any' not in out


def test_an_unlabelled_split_gets_every_question_of_its_file(
    damaged_records, tiny_teacher, tmp_path):
  """Including a question the records never saw (EvalAI's rule)."""
  raw, records = damaged_records
  questions = _read_json(layout.questions_path(raw, TEST))
  questions['questions'].append(dict(questions['questions'][0],
                                     question_id=990003,
                                     question='Is this one new?'))
  questions_path = tmp_path / 'questions.json'
  _write_json(questions, questions_path)
  results = tmp_path / 'results.json'
  assert cli.main(['evaluate', '--model', tiny_teacher, '--data', records,
                   '--split', TEST, '--questions', str(questions_path),
                   '--results', str(results),
                   '--output', str(tmp_path / 'eval.json')]) == 0
  assert_official_evaluator_loads(
      _read_json(results), [q['question_id'] for q in questions['questions']])


# The parts, without a model.


def test_write_results_refuses_what_the_official_evaluator_refuses(tmp_path):
  path = str(tmp_path / 'results.json')
  good = [{'question_id': 1, 'answer': 'yes'},
          {'question_id': 2, 'answer': '2'}]
  results_file.write_results(good, [1, 2], path)
  assert _read_json(path) == good
  cases = {
      'answered more than once': good + [{'question_id': 2, 'answer': 'no'}],
      '1 of the 3 questions not answered': good,
      'not in the questions file': good + [{'question_id': 9, 'answer': 'x'}],
      '"answer" is not a string': [{'question_id': 1, 'answer': 3}],
      'no integer "question_id"': [{'question_id': '1', 'answer': 'yes'}],
      'expected a JSON list': {'question_id': 1, 'answer': 'yes'},
  }
  expected_ids = {'1 of the 3 questions not answered': [1, 2, 3]}
  for message, results in cases.items():
    with pytest.raises(results_file.ResultsFileError, match=message) as e:
      results_file.write_results(results, expected_ids.get(message, [1, 2]),
                                 str(tmp_path / 'bad.json'))
    assert 'bad.json' in str(e.value)
  assert not (tmp_path / 'bad.json').exists()


def test_repeated_question_ids_keep_one_entry_and_a_usable_text(tmp_path):
  path = tmp_path / 'questions.json'
  _write_json({'questions': [
      {'question_id': 5, 'image_id': 1, 'question': ''},
      {'question_id': 7, 'image_id': 1, 'question': 'What color?'},
      {'question_id': 5, 'image_id': 1, 'question': 'How many?'},
      {'image_id': 1, 'question': 'No id?'}]}, path)
  texts, duplicates, without_id = split_questions.read_question_texts(
      str(path))
  assert texts == {5: 'How many?', 7: 'What color?'}
  assert (duplicates, without_id) == (1, 1)


def test_complete_prefers_the_model_then_the_text_then_the_common_answer():
  questions = split_questions.SplitQuestions(
      questions_path='q.json', annotations_path='', human_answers={},
      texts={1: 'What color?', 2: 'How many?', 3: ''}, duplicate_ids=0,
      records_without_id=0)
  answers, sources = complete_answers.complete(
      {1: 'red', 99: 'not asked'}, questions, 'yes',
      answer_texts=lambda texts: ['2' for _ in texts])
  assert answers == {1: 'red', 2: '2', 3: 'yes'}
  assert list(answers) == [1, 2, 3]
  assert sources == {1: complete_answers.MODEL,
                     2: complete_answers.MODEL_WITHOUT_IMAGE,
                     3: complete_answers.MOST_COMMON_ANSWER}
  _, image_free = complete_answers.complete({}, questions, 'yes',
                                            lambda texts: ['1'] * len(texts),
                                            image_free=True)
  assert image_free[2] == complete_answers.MODEL
