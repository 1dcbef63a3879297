r"""The preprocessing work as a plain Python loop: the benchmark's baselines.

  python benchmarks/decode_once_loop.py --data-dir DIR --split train2014 \
      --output OUT [--workers 1] [--image-size 224] [--num-shards 8]

Does what `vqa preprocess` does for one clean labelled split, without Beam:
joins questions and annotations, builds the answer vocabulary, labels,
tokenises with the product's tokenizer, decodes and re-encodes each image
once, serialises each question's tf.train.Example with the pipeline's
function (trainer/contract/record_spec.make_joined_example) and writes the
same gzip TFRecord shards, each image's records together, in the
same order. With the same inputs the shards hold the same bytes as the
pipeline's. `--workers 1` is the single-process loop; `--workers 0` spreads the
shards over every core with multiprocessing (the hardware limit for this
work on one machine). Prints one JSON line: questions written, images
encoded. Assumes clean inputs: records the pipeline would reject raise here.
"""
import argparse
import collections
import gzip
import json
import multiprocessing
import os
import sys

from beam_pipelines import images
from beam_pipelines import layout
from beam_pipelines import shard_files
from beam_pipelines import tokenization
from beam_pipelines import vqa_json
from trainer.contract import record_spec
from trainer.contract import vqa_metric

_tokenizer = None  # One per process, loaded by _load_tokenizer.


def build_parser():
  parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
  parser.add_argument('--data-dir', required=True)
  parser.add_argument('--split', default='train2014')
  parser.add_argument('--output', required=True)
  parser.add_argument('--workers', type=int, default=1,
                      help='processes; 0: one per core')
  parser.add_argument('--image-size', type=int, default=224)
  parser.add_argument('--num-shards', type=int, default=8)
  parser.add_argument('--top-answers', type=int, default=10)
  parser.add_argument('--max-question-tokens', type=int, default=32)
  return parser


def read_tokenizer_files():
  """The bundled tokenizer's files, read without Beam's FileSystems."""
  directory = tokenization.bundled_tokenizer_dir()
  files = {}
  for name in tokenization.TOKENIZER_FILES:
    path = os.path.join(directory, name)
    if os.path.exists(path):
      with open(path, 'rb') as f:
        files[name] = f.read()
  return files


def _load_json_list(path, key):
  with open(path, encoding='utf-8') as f:
    return json.load(f)[key]


def joined_records(data_dir, split):
  """The split's questions, each with its normalised human answers."""
  questions = _load_json_list(layout.questions_path(data_dir, split),
                              layout.QUESTIONS_KEY)
  annotations = {a['question_id']: a for a in _load_json_list(
      layout.annotations_path(data_dir, split), layout.ANNOTATIONS_KEY)}
  records = []
  for question in questions:
    problem = vqa_json.check_question(question)
    if problem:
      raise ValueError(f'question {question}: {problem} (clean inputs only)')
    annotation = annotations[question['question_id']]
    human = vqa_json.normalized_human_answers(annotation)
    records.append({
        'question_id': question['question_id'],
        'image_id': question['image_id'],
        'question': question['question'],
        'question_type': vqa_json.question_type(annotation),
        'answer_type': vqa_json.answer_type(annotation),
        'human_answers': human,
        'top_answer': vqa_metric.most_common_answer(human)})
  return records


def answer_vocabulary(records, top_answers):
  """The most common top answers, ties broken by name (as BuildVocabulary)."""
  counts = collections.Counter(r['top_answer'] for r in records
                               if r['top_answer'])
  ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
  return [answer for answer, _ in ranked[:top_answers]]


def labelled(records, answers):
  """Records with label and soft scores; those outside the vocabulary drop."""
  index = {answer: i for i, answer in enumerate(answers)}
  kept = []
  for record in records:
    label = index.get(record['top_answer'], record_spec.UNLABELLED)
    if label == record_spec.UNLABELLED:
      continue  # The training split filters them, as the pipeline does.
    kept.append(dict(record, label=label, scores=vqa_metric.soft_scores(
        record['human_answers'], answers)))
  return kept


def shard_tasks(records, num_shards, data_dir, split, output, settings):
  """One task per shard: its path and its images' records, as written."""
  by_shard = collections.defaultdict(lambda: collections.defaultdict(list))
  for record in records:
    image_id = record['image_id']
    by_shard[shard_files.shard_index(image_id, num_shards)][image_id].append(
        record)
  tasks = []
  for index in range(num_shards):
    groups = [(image_id, sorted(group, key=lambda r: r['question_id']))
              for image_id, group in sorted(by_shard[index].items())]
    path = shard_files.shard_path(record_spec.shard_prefix(output, split), index,
                                  num_shards, record_spec.SHARD_SUFFIX)
    tasks.append((path, groups, layout.image_dir(data_dir, split), split,
                  settings))
  return tasks


def _load_tokenizer(tokenizer_files, max_question_tokens):
  global _tokenizer  # pylint: disable=global-statement
  _tokenizer = tokenization.QuestionTokenizer(tokenizer_files,
                                              max_question_tokens)


def write_shard(task):
  """Decodes each image of the shard once and writes its records."""
  path, groups, image_dir, split, settings = task
  written = 0
  with gzip.open(path, 'wb', compresslevel=shard_files.GZIP_LEVEL) as f:
    for image_id, records in groups:
      with open(layout.join_path(image_dir, layout.image_filename(
          split, image_id)), 'rb') as image_file:
        jpeg = images.encode_image(image_file.read(), settings['image_size'])
      for record in records:
        ids, mask, _ = _tokenizer.encode(record['question'])
        f.write(shard_files.tfrecord_frame(
            record_spec.make_joined_example(
                dict(record, input_ids=ids, attention_mask=mask), jpeg,
                settings['max_question_tokens'], settings['num_answers'])))
        written += 1
  return written, len(groups)


def run(args):
  """Writes the shards; returns {'written': n, 'images': m}."""
  records = joined_records(args.data_dir, args.split)
  answers = answer_vocabulary(records, args.top_answers)
  settings = {'image_size': args.image_size, 'num_answers': len(answers),
              'max_question_tokens': args.max_question_tokens}
  tasks = shard_tasks(labelled(records, answers), args.num_shards,
                      args.data_dir, args.split, args.output, settings)
  os.makedirs(record_spec.shard_dir(args.output, args.split), exist_ok=True)
  initargs = (read_tokenizer_files(), args.max_question_tokens)
  workers = args.workers or os.cpu_count()
  if workers == 1:
    _load_tokenizer(*initargs)
    counts = [write_shard(task) for task in tasks]
  else:
    pool = multiprocessing.get_context('fork').Pool(
        workers, initializer=_load_tokenizer, initargs=initargs)
    counts = pool.map(write_shard, tasks, chunksize=1)
    pool.close()
    pool.join()  # Reaped, so their CPU time reaches the parent's rusage.
  return {'written': sum(n for n, _ in counts),
          'images': sum(m for _, m in counts)}


def main(argv=None):
  args = build_parser().parse_args(argv)
  print(json.dumps(run(args)), flush=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
