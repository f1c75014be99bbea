"""Tests for tagger.formats: each output format of tagged sentences, CoNLL-U read back by the
`conllu` library, and sentence ids renumbered as if the windows before had come first."""

import json

import conllu

from tagger.formats import format_sentences, renumber
from tagger.sentences import Window, read, read_text

TEXT = "He said “hi” (twice).\n\nShe didn't go."
TAGS = [["PRP", "VBD", "``", "UH", "''", "-LRB-", "RB", "-RRB-", "."],
        ["PRP", "VBD", "RB", "VB", "."]]


def test_text_conll_and_json_write_the_inputs_own_tokens():
    found = read_text(TEXT)
    assert format_sentences(found, TAGS, "text") == (
        "He/PRP said/VBD “/`` hi/UH ”/'' (/-LRB- twice/RB )/-RRB- ./.\n"
        "She/PRP did/VBD n't/RB go/VB ./.\n")
    assert format_sentences(found[1:], TAGS[1:], "conll") == (
        "She\tPRP\ndid\tVBD\nn't\tRB\ngo\tVB\n.\t.\n\n")
    first = json.loads(format_sentences(found, TAGS, "json").splitlines()[0])
    assert first == {"tokens": found[0].tokens, "tags": TAGS[0],
                     "spans": [list(span) for span in found[0].spans]}


def test_conllu_has_ids_text_paragraphs_upos_xpos_and_space_after():
    found = read_text(TEXT)
    parsed = conllu.parse(format_sentences(found, TAGS, "conllu", first_id=7))
    assert [s.metadata["sent_id"] for s in parsed] == ["7", "8"]
    assert [s.metadata["text"] for s in parsed] == ["He said “hi” (twice).", "She didn't go."]
    assert all("newpar" in s.metadata for s in parsed)  # each opens a paragraph
    she = parsed[1]
    assert [(t["form"], t["upos"], t["xpos"]) for t in she] == [
        ("She", "PRON", "PRP"), ("did", "AUX", "VBD"), ("n't", "PART", "RB"), ("go", "VERB", "VB"),
        (".", "PUNCT", ".")]
    assert [t["misc"] for t in she] == [None, {"SpaceAfter": "No"}, None, {"SpaceAfter": "No"},
                                        None]


def test_conllu_leaves_out_empty_sentences_but_counts_them_and_renumbers():
    found = read_text("The dog\n\nA cat\n", "lines")
    with_empty = [found[0], *read(Window("\n"), "lines"), found[1]]  # an empty line between
    output = format_sentences(with_empty, [["DT", "NN"], [], ["DT", "NN"]], "conllu")
    assert [s.metadata["sent_id"] for s in conllu.parse(output)] == ["1", "3"]
    later = renumber(output, "conllu", 10)
    assert [s.metadata["sent_id"] for s in conllu.parse(later)] == ["11", "13"]
    assert renumber("a/DT\n", "text", 10) == "a/DT\n"
