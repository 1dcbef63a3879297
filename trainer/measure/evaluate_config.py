r"""`vqa evaluate`: the official VQA accuracy of a trained model on a split.

  vqa evaluate --model MODEL_DIR --data OUT --split val2014
      [--results results.json] [--question-only-model Q_DIR]
      [--questions-file QUESTIONS.json] [--annotations-file ANNOTATIONS.json]
      [--metrics eval.json]

Reports, for the model and the baselines (majority answer; the question-only
model when given): VQA accuracy overall and per answer type, top-1 label
accuracy, the number of questions and examples/s. VQA accuracy is given on
three populations, so that the answer-vocabulary filter fools nobody:
  kept      questions whose most common answer is in the vocabulary;
  written   every question written for the split (the official rule: a
            question whose answers are all outside the vocabulary scores 0);
  all       every annotated question of the split's input files: the figure
            the official evaluator gives the results file.
The results are what the official evaluator asks for: on a labelled split
exactly the annotated question ids (VQA.loadRes refuses any other set), so a
question without annotation is left out and an annotation without question is
answered with the most common answer, both counted and named; on an
unlabelled split every question of the questions file. Each gets an answer,
including those that preprocessing rejected (missing or broken image),
filtered or saw twice: the model's, the model's without the image (a grey
one) when only the image is missing, else the training split's most common
answer; the counts are printed and written to the metrics JSON.

"shuffled" is the image-branch check (trainer/measure/image_check.py): the model's
VQA accuracy on the written questions when the images are moved among the
questions of each batch. Close to the real figure, the model ignores the image.

`--results` writes those answers in the official results format
[{"question_id": int, "answer": str}], one per question id, after checking
them as the official evaluator's VQA.loadRes does. On an unlabelled split
(test2015; test-dev2015 with --questions-file) it writes a complete submission
file and reports no accuracy:

  vqa evaluate --model MODEL_DIR --data OUT --split test2015 \
      --questions-file v2_OpenEnded_mscoco_test-dev2015_questions.json \
      --results vqa_test-dev2015_NAME_results.json
"""
import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
  """A `vqa evaluate` job."""
  model: str = dataclasses.field(default='', metadata={
      'required': True, 'metavar': 'MODEL_DIR', 'help': 'the trained model'})
  data: str = dataclasses.field(default='', metadata={
      'required': True, 'help': '`vqa preprocess` output'})
  split: str = 'val2014'
  results: str = dataclasses.field(default='', metadata={
      'help': 'write an answer to every question of the questions file, in '
              'the official results format'})
  questions: str = dataclasses.field(default='', metadata={
      'flag': '--questions-file', 'deprecated': ('--questions',),
      'metavar': 'FILE', 'help': 'questions file to answer (default: the one the split was '
              "preprocessed from), e.g. test-dev2015's with --split test2015"})
  annotations: str = dataclasses.field(default='', metadata={
      'flag': '--annotations-file', 'deprecated': ('--annotations',),
      'metavar': 'FILE', 'help': 'annotations file to score against (default: the one the '
              'split was preprocessed from)'})
  question_only_model: str = dataclasses.field(default='', metadata={
      'metavar': 'MODEL_DIR',
      'help': 'a question-only baseline to compare with'})
  batch_size: int = 64
  output: str = dataclasses.field(default='', metadata={
      'flag': '--metrics', 'deprecated': ('--output',), 'metavar': 'FILE',
      'help': 'metrics JSON (default MODEL_DIR/eval-SPLIT.json)'})

  @property
  def metrics_path(self):
    return self.output or os.path.join(self.model, f'eval-{self.split}.json')
