"""Tests for tagger.text: real text's characters tokenized and read as the treebank writes them, web
tokens kept whole as NLTK's TweetTokenizer keeps them, and every token's span pointing at the
input's own characters, for any text at all."""

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nltk.tokenize import NLTKWordTokenizer, TreebankWordTokenizer, TweetTokenizer

from conftest import needs_nltk
from tagger import text
from tagger.text import tokenize, tokenize_spans, treebank_forms
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


RAW_TEXTS = ("abc", "state_union", "webtext", "movie_reviews")


@needs_nltk(*(f"corpora/{name}" for name in RAW_TEXTS))
def test_the_treebank_rules_give_nltks_tokens_on_every_line_of_nltks_raw_text():
    import nltk.corpus

    nltk_tokenizer, lines = NLTKWordTokenizer(), 0
    for name in RAW_TEXTS:
        corpus = getattr(nltk.corpus, name)
        raw = "\n".join(corpus.raw(fileid) for fileid in corpus.fileids()[::50])
        for line in raw.splitlines()[:2_000]:  # news, speeches, chat and forums, film reviews
            assert text._penn_tokens(line) == nltk_tokenizer.tokenize(line), (name, line)
            lines += 1
    assert lines > 5_000


# Text made of what the rules look at: quotes of every kind, brackets, clitics, dots, digits.
PIECES = st.sampled_from(["'", "''", '"', "`", "``", "“", "”", "‘", "’", "«", "»", "„", "(", ")",
                          "[", "]", "{", "}", "<", ">", ".", "..", ",", ":", ";", "?", "!", "*",
                          "-", "--", "—", "$", "%", "&", "@", "#", " ", "  ", "\t", "1", "3.5",
                          "a", "dog", "s", "t", "re", "ll", "n't", "'s", "can", "not", "gon",
                          "na", "wan", "tis", "Mr", "É"])


@settings(max_examples=1500, deadline=None)
@given(st.lists(PIECES, max_size=14).map("".join))
def test_the_treebank_rules_give_nltks_tokens_on_any_mix_of_what_they_look_at(line):
    assert text._penn_tokens(line) == NLTKWordTokenizer().tokenize(line)


def test_tokenizing_imports_no_nltk():
    code = "import sys; from tagger import text; text.tokenize('I don\\'t.'); print('nltk' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


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


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(sorted(text.TOKEN_FORMS) + ["’", "‘s", "n’t", "\u00ad",
                                                                     "a\u00a0b", "s", "x"]),
                          st.text(min_size=1, max_size=4)), max_size=12))
def test_the_quick_path_of_treebank_forms_agrees_with_reading_in_context(tokens):
    """Sentences without quotes or apostrophes take a path that reads each token alone."""
    tokens = [t for t in tokens if t not in ('"', "'", "’")]
    assert treebank_forms(tokens) == text._forms_in_context(tokens)


def test_the_model_reads_real_characters_as_the_forms_it_learnt():
    vocab = Vocab.build([[("-LRB-", "-LRB-"), ("dog", "NN"), ("-RRB-", "-RRB-"), ("``", "``"),
                          ("do", "VBP"), ("n't", "RB"), ("''", "''")]])
    real = vocab.batch([["(", "dog", ")", "“", "do", "n’t", "”"]])
    treebank = vocab.batch([["-LRB-", "dog", "-RRB-", "``", "do", "n't", "''"]])
    for name in ("words", "chars", "forms"):
        assert getattr(real, name).equal(getattr(treebank, name))
    assert vocab.is_known("(") and vocab.is_known("[") and vocab.is_known("n’t")
    assert not vocab.is_known("<")


def test_a_megabyte_of_spaces_before_a_quote_a_dash_or_after_a_period_is_read_in_one_pass():
    # each of these took time quadratic in the spaces (a megabyte: hours) before
    spaces = " " * 1_000_000
    assert tokenize(spaces + "”") == ["''"]
    assert tokenize(spaces + "—x") == ["--", "x"]
    assert tokenize("a." + spaces + "x") == ["a.", "x"]


WEB = ["https://example.com/a?b=1", "http://en.wikipedia.org/wiki/Foo_(bar)", "www.nltk.org",
       "bob@example.com", "first.last@mail.example.co.uk", "@jenny", "@Jenny_2", "#bestever",
       "#NLP2026", ":)", ":-(", ";)", ":D", ":P", ":/", "<3"]


@pytest.mark.parametrize("token", WEB)
def test_web_tokens_stay_whole_as_nltks_tweet_tokenizer_keeps_them(token):
    assert TweetTokenizer().tokenize(token) == [token]
    contexts = [token, f"see {token} now", f"I said: {token}.", f"{token}!"]
    if token[0].isalnum() or token[0] in "@#":  # not emoticons, which must stand apart
        contexts += [f"({token})", f'"{token}"', f"{token}'s"]
    for line in contexts:
        assert token in tokenize(line), line


def test_web_tokens_in_context_and_the_numbers_the_treebank_writes():
    assert tokenize("Call me at 555-0123 or email bob@example.com! :)") == [
        "Call", "me", "at", "555-0123", "or", "email", "bob@example.com", "!", ":)"]
    assert tokenize("lol that movie was sooo good #bestever @jenny https://example.com/a?b=1") == [
        "lol", "that", "movie", "was", "sooo", "good", "#bestever", "@jenny",
        "https://example.com/a?b=1"]
    assert tokenize("It costs $1,000.50, 3.5% more: see example.com/prices.") == [
        "It", "costs", "$", "1,000.50", ",", "3.5", "%", "more", ":", "see",
        "example.com/prices", "."]
    # Not web tokens: #1 and C# as WSJ writes them, a lone @, an emoticon glued to a word.
    assert tokenize("#1 in C# @ home, see (item 8)") == [
        "#", "1", "in", "C", "#", "@", "home", ",", "see", "(", "item", "8", ")"]


def test_spans_give_the_inputs_own_characters_and_the_model_the_treebank_tokens():
    line = "I don’t know – it’s “fine” (really)… co\u00adoperate"
    tokens, forms, spans = tokenize_spans(line)
    assert tokens == ["I", "do", "n’t", "know", "–", "it", "’s", "“", "fine", "”", "(",
                      "really", ")", "…", "co\u00adoperate"]
    assert forms == tokenize(line) and forms[7] == "``" and forms[-1] == "cooperate"
    assert [line[s:e] for s, e in spans] == tokens
    assert tokenize_spans("xx The dog.", 3) == (["The", "dog", "."], ["The", "dog", "."],
                                                [(3, 6), (7, 10), (10, 11)])


SPAN_PIECES = st.one_of(PIECES, st.sampled_from(WEB + ["\u00ad", "\u00a0", "\n", "\u2028", "…",
                                                       "–", "'", "’’", "x@y.z"]))


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.lists(SPAN_PIECES, max_size=16).map("".join), st.text(max_size=40)))
def test_any_text_gets_spans_in_order_that_give_its_tokens(line):
    tokens, forms, spans = tokenize_spans(line)
    assert [line[s:e] for s, e in spans] == tokens and len(forms) == len(tokens)
    assert all(e > s for s, e in spans)
    assert all(e <= s for (_, e), (s, _) in zip(spans, spans[1:]))
    assert all(not token.isspace() and token.strip() == token for token in tokens)
    if len(forms) == len(tokenize(line)):  # a token is joined only where the rules regroup
        assert forms == tokenize(line)      # the characters of several (`'”`)
