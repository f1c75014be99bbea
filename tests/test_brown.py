"""Tests for tagger.brown: Brown's tags as sets of Penn tags, its tokens split as the treebank's."""

import pytest

from tagger import data
from tagger.brown import PENN, penn_sentence

PENN_TAGS = data.PENN_TAGS | {"``", "''"}


def test_contractions_and_possessives_are_split_as_the_treebank_splits_them():
    brown = [("I", "PPSS"), ("don't", "DO*"), ("know", "VB"), ("John's", "NP$"), ("dog", "NN"),
             ("It's", "PPS+BEZ"), ("cannot", "MD*"), ("boys'", "NNS$"), ("to", "IN"),
             ("United", "VBN-TL"), ("States", "NNS-TL"), ("de", "FW-IN")]
    assert penn_sentence(brown) == [
        ("I", "PRP"), ("do", "VB|VBP"), ("n't", "RB"), ("know", "VB|VBP"), ("John", "NNP"),
        ("'s", "POS"), ("dog", "NN"), ("It", "PRP"), ("'s", "VBZ"), ("can", "MD"), ("not", "RB"),
        ("boys", "NNS"), ("'", "POS"), ("to", "TO"), ("United", "VBN|JJ|NNP"),
        ("States", "NNS|NNPS"), ("de", "FW|IN")]


def test_a_sentence_with_a_token_penn_cannot_read_is_left_out():
    assert penn_sentence([("gonna", "VBG+TO"), ("go", "VB")]) is None
    assert penn_sentence([("LD", "NIL")]) is None


def test_every_brown_tag_maps_to_penn_tags():
    assert {tag for tags in PENN.values() for tag in tags.split("|")} <= PENN_TAGS


@pytest.mark.skipif(not data.nltk_has("corpora/brown"), reason="NLTK's brown is not installed")
def test_nearly_all_of_brown_converts_and_keeps_its_words():
    from nltk.corpus import brown

    sentences = brown.tagged_sents()[:3000]
    converted = [penn_sentence(s) for s in sentences]
    kept = [(s, c) for s, c in zip(sentences, converted) if c is not None]
    assert len(kept) > 0.99 * len(sentences)
    for original, penn in kept:  # splitting adds no character and loses none
        assert "".join(w for w, _ in original) == "".join(w for w, _ in penn)
        assert all(set(tags.split("|")) <= PENN_TAGS for _, tags in penn)
