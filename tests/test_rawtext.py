"""Tests for tagger.rawtext: raw text read as sentences of treebank tokens, from plain-text files
and NLTK's raw-text corpora, with the everyday corpora's own markup taken off first."""

import itertools

import pytest

from conftest import needs_nltk
from tagger import rawtext
from tagger.errors import TaggerError


def without_markup(name, lines):
    """What _without_markup keeps of `lines`, each stripped, the lines left empty dropped."""
    return [line.strip() for line in rawtext._without_markup(name, lines) if line.strip()]


@pytest.mark.parametrize("name", ["product_reviews_1", "product_reviews_2"])
def test_product_reviews_lose_titles_markers_headers_and_feature_annotations(name):
    lines = [
        "*************************************************************",
        "* Product name: Apex AD2600 Progressive-scan DVD player",
        "*",
        "[t]",
        "[t] great value . ",
        "SD500[+2]##We really enjoyed shooting with the Canon PowerShot SD500. ",
        "picture quality[+3][u], lens[-1]##The lens is soft, the pictures are not.",
        "##I've had it for about a month.",
        "a line with no markers at all",
    ]
    assert without_markup(name, lines) == [
        "great value .",
        "We really enjoyed shooting with the Canon PowerShot SD500.",
        "The lens is soft, the pictures are not.",
        "I've had it for about a month.",
        "a line with no markers at all",
    ]


def test_pros_and_cons_keep_the_text_inside_their_tags_and_drop_other_lines():
    lines = [
        "        <Cons>East batteries! On-off switch too easy to maneuver.</Cons>",
        "<Pros>Small, light, and the pictures are sharp</Pros>   ",
        "not inside any tag",
        "",
    ]
    assert without_markup("pros_cons", lines) == [
        "East batteries! On-off switch too easy to maneuver.",
        "Small, light, and the pictures are sharp",
    ]


def test_corpora_without_markup_keep_their_lines_as_they_are():
    lines = ["[t] SD500[+2]##<Pros>as is</Pros>", "* not a header here"]
    assert list(rawtext._without_markup("webtext", lines)) == lines


def test_raw_text_is_split_into_sentences_and_tokenized_the_treebank_way(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("He didn't go. She said \"yes\" to it!\n\nOne more line\n")
    assert list(rawtext.read_text(str(path))) == [
        ["He", "did", "n't", "go", "."], ["She", "said", "``", "yes", "''", "to", "it", "!"],
        ["One", "more", "line"]]


def test_an_unknown_name_is_a_one_line_error_naming_it(tmp_path):
    missing = str(tmp_path / "nope.txt")
    with pytest.raises(TaggerError) as error:
        list(rawtext.read_text(missing))
    message = str(error.value)
    assert "\n" not in message and missing in message and "product_reviews_2" in message


def joined(sentences):
    return [" ".join(tokens) for tokens in sentences]


@needs_nltk("corpora/product_reviews_2")
def test_product_reviews_2_reads_as_review_sentences_without_markup():
    first = list(itertools.islice(rawtext.read_text("product_reviews_2"), 200))
    assert first[:4] == [
        ["We", "really", "enjoyed", "shooting", "with", "the", "Canon", "PowerShot", "SD500", "."],
        ["It", "has", "an", "exterior", "design", "that", "combines", "form", "and", "function",
         "more", "elegantly", "than", "any", "point-and-shoot", "we", "'ve", "ever", "tested", "."],
        ["A", "Digic", "II-powered", "image-processing", "system", "enables", "the", "SD500", "to",
         "snap", "a", "limitless", "stream", "of", "7-megapixel", "photos", "at", "a",
         "respectable", "clip", ",", "its", "start-up", "time", "is", "tops", "in", "its",
         "class", ",", "and", "it", "delivers", "decent", "photos", "when", "compared", "to",
         "its", "competition", "."],
        ["The", "SD500", "rivals", "the", "Canon", "G6", "in", "image", "quality", "."]]
    assert all(first)
    # The tokenizer splits "##" and "[+2]" apart, so the markup is looked for in the joined text.
    for tokens, sentence in zip(first, joined(first)):
        assert not any("##" in t or "[+" in t or "[-" in t for t in tokens), sentence
        assert "# #" not in sentence and "[ +" not in sentence and "[ -" not in sentence, sentence


@needs_nltk("corpora/product_reviews_2")
def test_no_annotation_is_left_anywhere_in_product_reviews_2():
    left = [s for s in joined(rawtext.read_text("product_reviews_2"))
            if "# #" in s or "[ +" in s or "[ -" in s]
    assert left == []


@needs_nltk("corpora/product_reviews_2")
def test_the_corpus_readme_is_not_read_as_text():
    assert not any("liub" in s or "Bing Liu" in s
                   for s in joined(rawtext.read_text("product_reviews_2")))
