"""The bundled WordPiece tokenizer: fixed length, masks, truncation counted."""
import pytest

from beam_pipelines import tokenization


@pytest.fixture(scope='module')
def tokenizer_files():
  return tokenization.resolve_tokenizer_files(tokenization.DEFAULT_TOKENIZER)


def test_default_is_the_bundled_minilm_vocabulary(tokenizer_files):
  vocab = tokenizer_files['vocab.txt'].decode().splitlines()
  assert len(vocab) == 30522
  assert vocab[0] == '[PAD]'


def test_encode_pads_with_zero_and_decodes_back(tokenizer_files):
  tokenizer = tokenization.QuestionTokenizer(tokenizer_files, 16)
  ids, mask, truncated = tokenizer.encode('What color is the Bus?')
  assert len(ids) == len(mask) == 16
  assert not truncated
  n = sum(mask)
  assert ids[0] == tokenizer.cls_id and ids[n - 1] == tokenizer.sep_id
  assert ids[n:] == [0] * (16 - n) and mask[:n] == [1] * n
  assert tokenizer.decode(ids) == 'what color is the bus?'


def test_long_questions_are_truncated_and_end_with_sep(tokenizer_files):
  tokenizer = tokenization.QuestionTokenizer(tokenizer_files, 8)
  ids, mask, truncated = tokenizer.encode('is there a red circle left of '
                                          'the big blue square or not')
  assert truncated
  assert len(ids) == 8 and all(mask) and ids[-1] == tokenizer.sep_id


def test_a_local_directory_works_and_needs_vocab(tmp_path, tokenizer_files):
  (tmp_path / 'vocab.txt').write_bytes(tokenizer_files['vocab.txt'])
  assert set(tokenization.resolve_tokenizer_files(str(tmp_path))) == {
      'vocab.txt'}
  empty = tmp_path / 'empty'
  empty.mkdir()
  with pytest.raises(tokenization.TokenizerError, match='vocab.txt'):
    tokenization.resolve_tokenizer_files(str(empty))


QUESTIONS = ['What color is the Bus?', 'Is there a café nearby?',
             "What's the man's name on the jersey #23?", 'HOW MANY DOGS???',
             'Is the 3-way intersection busy?', '日本の車は何色ですか', '  ']


@pytest.mark.parametrize('keep', [None, {'vocab.txt'}])
def test_ids_match_transformers_bert_tokenizer_fast(tokenizer_files, tmp_path,
                                                    keep):
  import transformers  # pylint: disable=g-import-not-at-top
  files = {name: content for name, content in tokenizer_files.items()
           if keep is None or name in keep}
  for name, content in files.items():
    (tmp_path / name).write_bytes(content)
  reference = transformers.BertTokenizerFast.from_pretrained(str(tmp_path))
  tokenizer = tokenization.QuestionTokenizer(files, 64)
  for question in QUESTIONS:
    ids, mask, _ = tokenizer.encode(question)
    expected = reference(question)['input_ids']
    assert ids[:sum(mask)] == expected, question
