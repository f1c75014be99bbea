"""Tests for tagger.text: real text's characters tokenized and read as the treebank writes them."""

import pytest
from nltk.tokenize import TreebankWordTokenizer

from tagger.text import tokenize, treebank_forms
from tagger.vocab import Vocab


@pytest.mark.parametrize("text, tokens", [
    ("The (big) dog [really] ate {it}.",
     ["The", "(", "big", ")", "dog", "[", "really", "]", "ate", "{", "it", "}", "."]),
    ("He said “hello” to me.", ["He", "said", "``", "hello", "''", "to", "me", "."]),
    ('He said "hello" to me.', ["He", "said", "``", "hello", "''", "to", "me", "."]),
    ("I don’t know… it’s “fine” – really—yes",
     ["I", "do", "n't", "know", "...", "it", "'s", "``", "fine", "''", "--", "really", "--", "yes"]),
    ("a state–of–the–art\u00a0thing, 1990–95", ["a", "state-of-the-art", "thing", ",", "1990-95"]),
    ("‘Quoted’ words", ["`", "Quoted", "'", "words"]),
])
def test_typographic_characters_become_treebank_tokens(text, tokens):
    assert tokenize(text) == tokens


def test_plain_ascii_is_tokenized_as_the_treebank_tokenizer_does():
    text = "I can't, won't; Mr. Smith's dogs' toys cost $5.00 -- \"ok\"?"
    assert tokenize(text) == TreebankWordTokenizer().tokenize(text)


def test_treebank_forms_of_brackets_quotes_dashes_and_apostrophes():
    tokens = ["(", "“", "don’t", "”", ")", "[", "]", "{", "}", '"', "x", '"', "–", "…", "(s)", "-"]
    assert treebank_forms(tokens) == ["-LRB-", "``", "don't", "''", "-RRB-", "-LRB-", "-RRB-",
                                      "-LRB-", "-RRB-", "``", "x", "''", "--", "...", "(s)", "--"]
    # tokens from a tokenizer that splits at every apostrophe
    assert treebank_forms(["it", "’", "s", "don", "'", "t", "s", "we", "’", "ll"]) == [
        "it", "'", "'s", "don", "'", "n't", "s", "we", "'", "'ll"]
    treebank = ["-LRB-", "``", "n't", "''", "--", "...", "dog"]
    assert treebank_forms(treebank) == treebank  # the treebank's own forms stay as they are
    assert treebank_forms(["-LCB-", "-RSB-"]) == ["-LRB-", "-RRB-"]


def test_the_model_reads_real_characters_as_the_forms_it_learnt():
    vocab = Vocab.build([[("-LRB-", "-LRB-"), ("dog", "NN"), ("-RRB-", "-RRB-"), ("``", "``"),
                          ("do", "VBP"), ("n't", "RB"), ("''", "''")]])
    real = vocab.batch([["(", "dog", ")", "“", "do", "n’t", "”"]])
    treebank = vocab.batch([["-LRB-", "dog", "-RRB-", "``", "do", "n't", "''"]])
    for name in ("words", "chars", "forms"):
        assert getattr(real, name).equal(getattr(treebank, name))
    assert vocab.is_known("(") and vocab.is_known("[") and vocab.is_known("n’t")
    assert not vocab.is_known("<")
