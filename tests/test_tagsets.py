"""Tests for tagger.tagsets: NLTK's universal tags exactly as NLTK maps Penn tags, and UPOS as UD's
English treebanks give it, auxiliaries and subordinating conjunctions included."""

import pytest
from nltk.tag.mapping import map_tag

from conftest import needs_nltk
from tagger import tagsets
from tagger.errors import TaggerError

PENN = sorted(tagsets.PENN)


@needs_nltk("taggers/universal_tagset")
def test_universal_tags_are_nltks_map_tag():
    assert tagsets.to_universal(PENN, PENN) == [map_tag("en-ptb", "universal", t) for t in PENN]
    assert tagsets.to_universal(["NOUN", "."], ["NOUN", "VERB", "."]) == ["NOUN", "."]
    with pytest.raises(TaggerError, match="--tagset universal"):
        tagsets.to_universal(["N"], ["N", "V"])


def test_the_kind_of_a_tag_set():
    assert tagsets.kind(PENN) == "penn"
    assert tagsets.kind(["NOUN", "VERB", "."]) == "universal"
    assert tagsets.kind(["PROPN", "AUX", "PUNCT"]) == "upos"
    assert tagsets.kind(["N", "V"]) == "other"


@pytest.mark.parametrize("words, tags, expected", [
    ("He is going home".split(), ["PRP", "VBZ", "VBG", "NN"], ["PRON", "AUX", "VERB", "NOUN"]),
    ("I have seen it".split(), ["PRP", "VBP", "VBN", "PRP"], ["PRON", "AUX", "VERB", "PRON"]),
    ("I have a dog".split(), ["PRP", "VBP", "DT", "NN"], ["PRON", "VERB", "DET", "NOUN"]),
    ("Did you not go".split(), ["VBD", "PRP", "RB", "VB"], ["AUX", "PRON", "PART", "VERB"]),
    ("I did it".split(), ["PRP", "VBD", "PRP"], ["PRON", "VERB", "PRON"]),
    ("She can swim because it is warm".split(), ["PRP", "MD", "VB", "IN", "PRP", "VBZ", "JJ"],
     ["PRON", "AUX", "VERB", "SCONJ", "PRON", "AUX", "ADJ"]),
    (["in", "Paris", "'s", "$", "5", "."], ["IN", "NNP", "POS", "$", "CD", "."],
     ["ADP", "PROPN", "PART", "SYM", "NUM", "PUNCT"]),
])
def test_upos_of_penn_tagged_words(words, tags, expected):
    assert tagsets.upos(words, tags) == expected
    assert set(expected) <= tagsets.UPOS


def test_conllu_columns_for_each_kind_of_tag_set():
    assert tagsets.conllu_columns(["dogs"], ["NNS"], "penn") == (["NOUN"], ["NNS"])
    assert tagsets.conllu_columns(["dogs"], ["NOUN"], "upos") == (["NOUN"], ["_"])
    assert tagsets.conllu_columns(["and"], ["CONJ"], "universal") == (["CCONJ"], ["_"])
    assert tagsets.conllu_columns(["dogs"], ["N"], "other") == (["_"], ["N"])
