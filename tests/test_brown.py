"""Tests for tagger.brown: Brown's tags as sets of Penn tags, its tokens split as the treebank's."""

from conftest import needs_nltk
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


def test_own_tags_follow_the_penn_tags_piece_by_piece_with_title_and_foreign_marks():
    brown = [("It's", "PPS+BEZ"), ("United", "VBN-TL"), ("de", "FW-IN"), ("John's", "NP$"),
             ("don't", "DO*")]
    both = penn_sentence(brown, tags="both")
    assert both == [
        ("It", "PRP~PPS"), ("'s", "VBZ~BEZ"), ("United", "VBN|JJ|NNP~VBN-TL"),
        ("de", "FW|IN~FW-IN"), ("John", "NNP~NP"), ("'s", "POS~POS"), ("do", "VB|VBP~DO"),
        ("n't", "RB~*")]
    assert [(w, t.partition("~")[0]) for w, t in both] == penn_sentence(brown)
    assert penn_sentence(brown, tags="own") == [(w, "~" + t.partition("~")[2]) for w, t in both]


def test_a_sentence_with_a_token_penn_cannot_read_is_left_out():
    assert penn_sentence([("gonna", "VBG+TO"), ("go", "VB")]) is None
    assert penn_sentence([("LD", "NIL")]) is None


def test_every_brown_tag_maps_to_penn_tags():
    assert {tag for tags in PENN.values() for tag in tags.split("|")} <= PENN_TAGS


@needs_nltk("corpora/brown")
def test_nearly_all_of_brown_converts_and_keeps_its_words():
    from nltk.corpus import brown

    sentences = brown.tagged_sents()[:3000]
    converted = [penn_sentence(s) for s in sentences]
    kept = [(s, c) for s, c in zip(sentences, converted) if c is not None]
    assert len(kept) > 0.99 * len(sentences)
    for original, penn in kept:  # splitting adds no character and loses none
        assert "".join(w for w, _ in original) == "".join(w for w, _ in penn)
        assert all(set(tags.split("|")) <= PENN_TAGS for _, tags in penn)
