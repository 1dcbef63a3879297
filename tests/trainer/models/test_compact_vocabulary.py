"""The student's compact vocabulary: the training questions' wordpieces and
the special tokens, saved in MODEL_DIR, remapped inside the model (a
wordpiece never seen in training reads as [UNK]); --vocabulary full and
students saved before it still load; the teacher has no such flag."""
import json
import os
import shutil

import numpy as np
import pytest

from tests.trainer.conftest import tiny_distill_config
from trainer.app import cli
from trainer.app import flags
from trainer.data import compact_vocabulary
from trainer.data import input_pipeline
from trainer.data import sample_questions
from trainer.fit import distill
from trainer.models import model_io

TRAIN = 'train2014'


@pytest.fixture(scope='module')
def spec(tiny_records):
  return input_pipeline.read_data_spec(tiny_records)


@pytest.fixture(scope='module')
def train_wordpieces(spec):
  """The full ids of the training questions, tokenised again from their
  text with the records' tokenizer.json (not read from the records)."""
  import tokenizers  # pylint: disable=g-import-not-at-top
  tokenizer = tokenizers.Tokenizer.from_file(os.path.join(
      spec.data_dir, 'tokenizer', 'tokenizer.json'))
  questions = sample_questions.read_questions(spec, TRAIN, 10_000)
  assert len(questions) == input_pipeline.count_examples(spec, TRAIN)
  return {token_id for question in questions
          for token_id in tokenizer.encode(question.question).ids}


def test_it_holds_the_training_wordpieces_and_the_special_tokens(
    spec, train_wordpieces):
  vocabulary = compact_vocabulary.build_compact_vocabulary(spec, (TRAIN,))
  vocab = compact_vocabulary.read_vocab_file(
      os.path.join(spec.data_dir, 'tokenizer'))
  specials = {vocab.index(token)
              for token in compact_vocabulary.SPECIAL_TOKENS}
  assert set(vocabulary.ids) == train_wordpieces | specials
  assert list(vocabulary.ids) == sorted(vocabulary.ids)
  assert vocabulary.full_size == len(vocab) == 30522
  assert vocabulary.size < 500
  assert vocabulary.tokens == tuple(vocab[i] for i in vocabulary.ids)
  assert vocabulary.tokens[0] == '[PAD]'  # padding stays id 0
  assert vocabulary.tokens[vocabulary.unknown_id] == '[UNK]'
  table = vocabulary.remap_table()
  np.testing.assert_array_equal(table[list(vocabulary.ids)],
                                np.arange(vocabulary.size))
  unseen = np.setdiff1d(np.arange(len(vocab)), vocabulary.ids)
  assert (table[unseen] == vocabulary.unknown_id).all()


def _val_inputs(spec, examples=8):
  dataset = input_pipeline.make_dataset(spec, 'val2014', examples,
                                        training=False, deterministic=True,
                                        for_keras=False)
  inputs, _ = input_pipeline.to_model_inputs(next(iter(dataset)))
  return {name: tensor.numpy() for name, tensor in inputs.items()}


def test_the_student_embeds_it_and_reads_unseen_wordpieces_as_unknown(
    tiny_student, spec):
  loaded = model_io.load_model(tiny_student)
  vocabulary = model_io.read_compact_vocabulary(tiny_student)
  assert loaded.saved_config.model['vocabulary'] == 'compact'
  embedding = loaded.model.get_layer('token_embedding')
  assert embedding.input_dim == vocabulary.size
  # The remap table is a constant, not a parameter.
  assert sum(w.size for w in loaded.model.get_weights()) < 30522
  unk = vocabulary.ids[vocabulary.unknown_id]
  unseen = next(i for i in range(1000, 30522) if i not in vocabulary.ids)
  kept = next(i for i in vocabulary.ids if i > 1000)
  inputs = _val_inputs(spec)
  logits = {}
  for name, token in (('unk', unk), ('unseen', unseen), ('kept', kept)):
    changed = dict(inputs, input_ids=inputs['input_ids'].copy())
    changed['input_ids'][:, 1] = token  # the first wordpiece
    logits[name] = loaded.model(changed, training=False).numpy()
  np.testing.assert_allclose(logits['unseen'], logits['unk'], atol=1e-6)
  assert not np.allclose(logits['kept'], logits['unk'], atol=1e-6)


def test_full_vocabulary_and_students_saved_before_it_load(
    tiny_records, tiny_student, tmp_path):
  output = tmp_path / 'full'
  summary = distill.distill(tiny_distill_config(
      tiny_records, '', output, alpha=1.0, steps_per_epoch=2,
      student=dict(vocabulary='full')))
  compact = model_io.load_model(tiny_student).model.count_params()
  assert summary['parameters'] > compact + 30_000 * 8 - 1000
  assert not os.path.exists(output / model_io.VOCABULARY_FILE)
  # A config.json written before the field existed: the full vocabulary.
  path = output / model_io.CONFIG_FILE
  values = json.loads(path.read_text())
  del values['model']['vocabulary']
  path.write_text(json.dumps(values))
  loaded = model_io.load_model(str(output))
  assert loaded.model.get_layer('token_embedding').input_dim == 30522
  assert loaded.model.count_params() == summary['parameters']


def test_a_compact_student_without_its_vocabulary_file_is_refused(
    tiny_records, tiny_student, tmp_path, capsys):
  copy = shutil.copytree(tiny_student, tmp_path / 'student')
  os.remove(copy / model_io.VOCABULARY_FILE)
  code = cli.main(['export-tflite', '--model', str(copy), '--data',
                   tiny_records])
  assert code == 2
  assert model_io.VOCABULARY_FILE in capsys.readouterr().err


def test_the_flag_is_the_student_s_and_compact_by_default():
  base = ['--data', 'd', '--output', 'o']
  assert cli.job_config('distill', base).student.vocabulary == 'compact'
  assert cli.job_config('distill', base + ['--vocabulary', 'full']
                        ).student.vocabulary == 'full'
  # The teacher's text encoder is untouched: no such flag.
  with pytest.raises(flags.UnknownFlag, match='--vocabulary'):
    cli.job_config('train', base + ['--vocabulary', 'full'])
