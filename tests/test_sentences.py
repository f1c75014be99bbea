"""Tests for tagger.sentences: paragraphs, sentences and windows of running text, every token's span
pointing at its own characters in the input, whatever the text and however it is cut."""

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagger import sentences
from tagger.sentences import Window, paragraphs, read, read_text, split_sentences, windows
from tagger.text import tokenize

PARAGRAPH = "Mr. Smith went to Washington. He didn't like it there."


def texts(found, text):
    return [text[s:e] for s, e in found]


def test_paragraphs_are_lines_up_to_a_blank_line():
    text = "\n  First line\nstill first.\n\n \t \nSecond.\n\n\n  Third.  \n"
    assert texts(paragraphs(text), text) == ["First line\nstill first.", "Second.", "Third."]
    assert paragraphs("") == paragraphs(" \n\t\n") == []
    assert texts(paragraphs("a\r\n\r\nb"), "a\r\n\r\nb") == ["a", "b"]  # "\r\n" line ends too


def test_a_paragraph_is_split_into_its_sentences():
    assert texts(split_sentences(PARAGRAPH), PARAGRAPH) == [
        "Mr. Smith went to Washington.", "He didn't like it there."]
    # Hard-wrapped: a line break inside a sentence is a space.
    wrapped = "Mr. Smith went\nto Washington. He didn't\nlike it there."
    assert texts(split_sentences(wrapped), wrapped) == [
        "Mr. Smith went\nto Washington.", "He didn't\nlike it there."]


def test_no_sentence_ends_inside_a_web_token_and_an_emoticon_stays_with_its_sentence():
    text = "See https://example.com/a?b=1. Then mail bob@example.com! :) Bye."
    assert texts(split_sentences(text), text) == [
        "See https://example.com/a?b=1.", "Then mail bob@example.com! :)", "Bye."]


def test_spans_are_offsets_into_the_text_and_point_at_the_inputs_own_characters():
    text = "Intro.\n\nI don’t know – it’s “fine”. Really?\nYes."
    found = read_text(text)
    assert [s.tokens for s in found] == [
        ["Intro", "."], ["I", "do", "n’t", "know", "–", "it", "’s", "“", "fine", "”", "."],
        ["Really", "?"], ["Yes", "."]]
    assert found[1].forms == tokenize("I don’t know – it’s “fine”.")
    for sentence in found:
        assert [text[s:e] for s, e in sentence.spans] == sentence.tokens
        assert sentence.text == text[sentence.spans[0][0]:sentence.spans[-1][1]]
    assert [s.paragraph for s in found] == [True, True, False, False]
    assert found[0].space_after() == [False, True] and found[1].space_after()[-2:] == [False, True]


def test_by_lines_every_line_is_a_sentence_empty_ones_included():
    text = "The dog ate. The cat slept.\n\n  \nA bird"
    found = read(next(windows(io.StringIO(text), "lines")), "lines")
    assert [s.tokens for s in found] == [tokenize("The dog ate. The cat slept."), [], [],
                                         ["A", "bird"]]
    tokenized = read(Window(text), "lines", tokenized=True)
    assert tokenized[0].tokens == tokenized[0].forms == "The dog ate. The cat slept.".split()
    assert [text[s:e] for s, e in tokenized[3].spans] == ["A", "bird"]


def test_windows_end_where_paragraphs_end_and_are_read_lazily():
    read_lines = []

    class Stream:
        def __init__(self):
            self.lines = iter([f"Sentence {i}.\n" if i % 3 else "\n" for i in range(30)])

        def readline(self, size):
            line = next(self.lines, "")
            read_lines.append(line)
            return line

    found = windows(Stream(), lines=4)
    first = next(found)
    assert first.text == "\nSentence 1.\nSentence 2.\n\n" and len(read_lines) == 4
    rest = list(found)
    assert all(w.text.endswith("\n\n") for w in rest[:-1]) and not any(w.continued for w in rest)
    assert "".join(w.text for w in [first, *rest]) == "".join(
        f"Sentence {i}.\n" if i % 3 else "\n" for i in range(30))


def test_a_paragraph_longer_than_a_window_is_cut_at_a_sentence_start(monkeypatch):
    monkeypatch.setattr(sentences, "PIECE_CHARS", 50)  # lines are read 50 characters at a time
    text = "The dog barked at the mailman. " * 100 + "\n\nNext one."
    found = list(windows(io.StringIO(text), chars=200))
    assert "".join(w.text for w in found) == text
    assert max(len(w.text) for w in found) <= 200 + 50  # bounded
    assert [w.continued for w in found][:3] == [False, True, True]
    assert all(w.text.startswith("The dog") for w in found[1:-1])
    assert [w.offset for w in found] == [sum(len(w.text) for w in found[:k])
                                         for k in range(len(found))]
    sentences_read = [s for w in found for s in read(w)]
    assert [s.text for s in sentences_read] == [s.text for s in read_text(text)]
    assert [s.paragraph for s in sentences_read].count(True) == 2


def test_a_line_of_a_gigabyte_is_never_held_whole():
    class Endless:  # a line that never ends: windows are handed on all the same
        def readline(self, size):
            return "word " * (size // 5)

    first = next(windows(Endless(), chars=sentences.PIECE_CHARS))
    assert 0 < len(first.text) <= 2 * sentences.PIECE_CHARS and first.text.endswith(" ")


# Text made of what the reading looks at: sentence ends, line breaks, blank lines, quotes, web
# tokens, abbreviations, any character.
PIECES = st.sampled_from([".", "!", "?", "...", "\n", "\n\n", " \n \n", "\r\n", " ", "  ", "\t",
                          "“", "”", '"', "'", "’", "(", ")", "Mr.", "U.S.", "e.g.", "The", "dog",
                          "n't", ":)", "@jenny", "#tag", "https://x.com/a?b=1", "bob@x.org",
                          "\u00ad", "\u00a0", "\u2028", "日本", "é", "1.5"])
TEXT = st.one_of(st.lists(PIECES, max_size=40).map("".join), st.text(max_size=80))


@settings(max_examples=400, deadline=None)
@given(text=TEXT, split=st.sampled_from(sentences.SPLITS), chars=st.integers(1, 60))
def test_any_text_gives_spans_that_point_at_their_tokens_in_order(text, split, chars):
    found = list(windows(io.StringIO(text), split, lines=3, chars=chars))
    assert "".join(w.text for w in found) == text
    spans = []
    for window in found:
        for sentence in read(window, split):
            assert [text[s:e] for s, e in sentence.spans] == sentence.tokens
            assert all(token and not token.isspace() for token in sentence.tokens)
            assert len(sentence.forms) == len(sentence.tokens) == len(sentence.space_after())
            spans += sentence.spans
    assert all(s < e <= s2 for (s, e), (s2, _) in zip(spans, spans[1:] + [(len(text), 0)]))
    if split == "lines":
        lines = text.split("\n")
        assert sum(len(read(w, "lines")) for w in found) == len(lines) - (lines[-1] == "")


def test_every_token_of_the_text_is_read_once():
    text = "One. Two three!\n\nFour (five) six…\nseven.\n"
    assert [t for s in read_text(text) for t in s.tokens] == [
        "One", ".", "Two", "three", "!", "Four", "(", "five", ")", "six", "…", "seven", "."]
    # By lines, the treebank's rules alone: they split off a line's last period only.
    assert [s.forms for s in read_text(text, "lines")] == [
        tokenize(line) for line in text.splitlines() if line]
