"""Tests for tagger.tag: the NLTK-style PosTagger API and the `python -m tagger.tag` command line,
checked against the same model tagging in-process and against NLTK's tokenizer and TaggerI; any
tokens at all get one tag each, whatever shares their batch, and hostile or huge input never fails."""

import io
import json
import os
import subprocess
import sys
import threading

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from nltk.tag.api import TaggerI
from nltk.tokenize import TreebankWordTokenizer

from conftest import TINY_RUN
from tagger import data, tag
from tagger.config import Config
from tagger.tag import MAX_SENTENCE_TOKENS, TOKENS_PER_BATCH, PosTagger, split_long
from tagger.lstm import products
from tagger.text import tokenize, tokenize_spans
from tagger.train import train

# One thread: on a small machine shared with other work, torch's thread pool waits on busy cores.
TINY = dict(TINY_RUN, epochs=10)
LONG = " ".join(["the", "dog", "ate", "an", "apple", "."] * 333 + ["ok", "!"])  # 2,000 tokens
LINES = [  # what --file and stdin read with --split lines, one sentence a line
    "The dog ate the apple",
    "",
    "A cat .",
    "   \t ",
    'He said "hello, world" and left.',
    "Everybody read that book about the big brown dog in the garden yesterday .",
    "naïve café 🙂 日本語 ümlaut",
    LONG,
    "Dogs",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("tag") / "model"
    train(Config(**TINY, out=str(out)), log=lambda message: None)
    return out


@pytest.fixture(scope="module")
def tagger(model_dir):
    return PosTagger.load(model_dir, "cpu")


@pytest.fixture(scope="module")
def toy_test():
    return data.read_tagged(data.TOY_DIR / "test.txt")


@pytest.fixture(scope="session")
def run_tag(run_cli):
    # On the CPU, as the in-process tagger the output is compared with.
    return lambda *args, **kwargs: run_cli("tagger.tag", "--device", "cpu", *args, **kwargs)


def treebank(line):
    return TreebankWordTokenizer().tokenize(line)


def own(text, spans):
    """The input's own characters at each span."""
    return [text[s:e] for s, e in spans]


# --- the API ---------------------------------------------------------------------------------


def test_tag_returns_the_tokens_with_one_known_tag_each(tagger):
    tokens = ["The", "dog", "ate", "the", "apple"]
    tagged = tagger.tag(tokens)
    assert isinstance(tagged, list) and all(isinstance(pair, tuple) for pair in tagged)
    assert [w for w, _ in tagged] == tokens
    assert all(t in tagger.vocab.tags for _, t in tagged)
    assert tagger.tag(tuple(tokens)) == tagged


def test_tag_sents_tags_each_sentence_as_tag_alone(tagger, toy_test):
    sentences = [[w for w, _ in s] for s in toy_test]
    batched = tagger.tag_sents(sentences)
    assert batched == [tagger.tag(s) for s in sentences]
    # Any iterable will do, as for NLTK's taggers, sentences included.
    assert tagger.tag_sents(iter(s) for s in sentences) == batched
    assert tagger.tag(iter(sentences[0])) == batched[0]


def test_accuracy_is_the_fraction_of_tokens_tagged_right(tagger, toy_test):
    tagged = tagger.tag_sents([[w for w, _ in s] for s in toy_test])
    pairs = [(g, p) for gold, predicted in zip(toy_test, tagged)
             for (_, g), (_, p) in zip(gold, predicted)]
    by_hand = sum(g == p for g, p in pairs) / len(pairs)
    assert len(pairs) == 100 and 0 < by_hand < 1
    assert tagger.accuracy(toy_test) == by_hand
    assert TaggerI.accuracy(tagger, toy_test) == by_hand  # NLTK's own definition
    assert tagger.evaluate(toy_test) == by_hand  # a float, as NLTK's evaluate
    report = tagger.scores(toy_test)
    assert report["accuracy"] == by_hand and report["tokens"] == 100
    assert report["known_tokens"] + report["unknown_tokens"] == 100


def test_awkward_input_gets_one_tag_per_token(tagger):
    sentences = [[], ["🙂"], ["naïve", "café", "日本語"], [], ["\u200b", "x" * 300], ["", "a"],
                 LONG.split()]
    tagged = tagger.tag_sents(sentences)
    assert [[w for w, _ in s] for s in tagged] == sentences
    assert all(t in tagger.vocab.tags for s in tagged for _, t in s)
    assert tagger.tag([]) == []
    assert len(tagger.tag(LONG.split())) == 2000


def test_batches_split_by_tokens_tag_as_alone(tagger):
    """Sentences beyond one batch's token budget tag as they do on their own."""
    long = LONG.split()
    sentences = [long, ["The", "dog"], long[1:], long[:1500], ["Dogs", "ate", "."]]
    while sum(len(s) for s in sentences) <= 2 * TOKENS_PER_BATCH / 1.5:
        sentences.append(long[len(sentences):])
    assert tagger.tag_sents(sentences) == [tagger.tag(s) for s in sentences]


def test_predict_proba_gives_every_tags_probability_and_predict_is_its_argmax(tagger, model_dir):
    long = LONG.split()  # over MAX_SENTENCE_TOKENS: tagged in pieces, joined again
    sentences = [["The", "dog", "ate"], [], long, ["Dogs", "ate", "."]]
    probabilities = tagger.predict_proba(sentences)
    assert [p.shape for p in probabilities] == [(len(s), len(tagger.vocab.tags)) for s in sentences]
    assert all(torch.allclose(p.sum(-1), torch.ones(len(p))) for p in probabilities)
    for p, (tags, best) in zip(probabilities, tagger.predict_scored(sentences)):
        assert [tagger.vocab.tags[i] for i in p.argmax(-1).tolist()] == tags
        assert torch.allclose(p.max(-1).values, torch.tensor(best))
    # An ensemble's probabilities are its members' mean.
    pair = PosTagger.load([model_dir, model_dir], "cpu")
    for one, two in zip(probabilities, pair.predict_proba(sentences)):
        assert torch.allclose(one, two, atol=1e-6)


def test_each_window_is_tagged_from_a_cleared_form_cache(tagger):
    """So that a window's output is its own, whatever a process tagged before (--workers, bulk):
    only the training's frequent forms, computed at the start, stay."""
    cache = tagger.members[0][2]
    tagger.predict([["Zyxt", "dog"]])
    assert "Zyxt" in cache.rows
    window = next(tag.read_windows(io.BytesIO(b"The Qwerty sat .\n"), tag.Options("lines")))
    found, tags = tag.tag_sentences(tagger, window, tag.Options("lines"))
    assert cache.rows.keys() == cache.fixed.keys() | {"The", "Qwerty", "sat", "."}
    assert "Zyxt" not in cache.fixed
    tagger.clear_cache()
    assert tags == tagger.predict([s.forms for s in found])


# --- the command line ------------------------------------------------------------------------


PARAGRAPHS = ("Mr. Smith went to Washington. He didn't like it there.\n\n"
              "I don’t know – it’s “fine” (really)… The dog\nate the apple.\n")


def test_tag_text_splits_sentences_and_gives_each_token_its_span(tagger):
    tagged = tagger.tag_text(PARAGRAPHS)
    assert [[w for w, _, _ in s] for s in tagged] == [
        ["Mr.", "Smith", "went", "to", "Washington", "."],
        ["He", "did", "n't", "like", "it", "there", "."],
        ["I", "do", "n’t", "know", "–", "it", "’s", "“", "fine", "”", "(", "really", ")", "…",
         "The", "dog", "ate", "the", "apple", "."]]
    assert all(PARAGRAPHS[s:e] == w for sentence in tagged for w, _, (s, e) in sentence)
    # The model reads the treebank's tokens: "“" as ``, "n’t" as n't.
    forms = tokenize("I don’t know – it’s “fine” (really)… The dog\nate the apple.")
    assert [t for _, t, _ in tagged[2]] == [t for _, t in tagger.tag(forms)]
    assert [[t for _, t, _ in s] for s in tagger.tag_text("The dog ate\nDogs bark", "lines")] == \
        [[t for _, t in tagger.tag(s.split())] for s in ("The dog ate", "Dogs bark")]


def test_cli_splits_each_argument_into_sentences_word_slash_tag(tagger, model_dir, run_tag):
    result = run_tag("--model", str(model_dir), PARAGRAPHS, "Dogs bark")
    assert result.returncode == 0, result.stderr
    expected = tagger.tag_text(PARAGRAPHS) + tagger.tag_text("Dogs bark")
    assert result.stdout == "".join(" ".join(f"{w}/{t}" for w, t, _ in s) + "\n"
                                    for s in expected)


def test_cli_conll_format(tagger, model_dir, run_tag):
    result = run_tag("--model", str(model_dir), "--format", "conll", "The dog ate", "Dogs bark")
    assert result.returncode == 0, result.stderr
    expected = [tagger.tag(["The", "dog", "ate"]), tagger.tag(["Dogs", "bark"])]
    assert result.stdout == "".join("".join(f"{w}\t{t}\n" for w, t in s) + "\n" for s in expected)


def test_cli_json_format_gives_tokens_tags_and_spans(tagger, model_dir, run_tag):
    result = run_tag("--model", str(model_dir), "--format", "json", PARAGRAPHS, "naïve 🙂")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    expected = tagger.tag_text(PARAGRAPHS) + tagger.tag_text("naïve 🙂")
    assert [json.loads(line) for line in lines] == [
        {"tokens": [w for w, _, _ in s], "tags": [t for _, t, _ in s],
         "spans": [list(span) for _, _, span in s]} for s in expected]
    assert "🙂" in lines[-1]  # written as UTF-8, not \\u escapes


def test_cli_conllu_is_read_back_by_the_conllu_library(tagger, model_dir, run_tag):
    import conllu

    result = run_tag("--model", str(model_dir), "--format", "conllu", PARAGRAPHS)
    assert result.returncode == 0, result.stderr
    parsed = conllu.parse(result.stdout)
    expected = tagger.tag_text(PARAGRAPHS)
    assert [s.metadata["sent_id"] for s in parsed] == ["1", "2", "3"]
    assert ["newpar" in s.metadata for s in parsed] == [True, False, True]
    assert parsed[0].metadata["text"] == "Mr. Smith went to Washington."
    assert parsed[2].metadata["text"].endswith("The dog ate the apple.")  # one line
    for sentence, tagged in zip(parsed, expected):
        assert [t["form"] for t in sentence] == [w for w, _, _ in tagged]
        assert [t["xpos"] for t in sentence] == [t for _, t, _ in tagged]
        assert [t["id"] for t in sentence] == list(range(1, len(tagged) + 1))
        assert all(t["upos"] for t in sentence)
        # SpaceAfter=No exactly where the text has no space after the token
        for token, (_, _, (_, end)) in zip(sentence, tagged):
            no_space = end < len(PARAGRAPHS) and not PARAGRAPHS[end].isspace()
            assert (token["misc"] == {"SpaceAfter": "No"}) == no_space
        text = "".join(t["form"] + ("" if t["misc"] else " ") for t in sentence).strip()
        assert text == sentence.metadata["text"]


def test_cli_tagset_universal_is_nltks_mapping(tagger, model_dir, run_tag):
    from nltk.tag import map_tag

    result = run_tag("--model", str(model_dir), "--tagset", "universal", "--format", "json",
                     PARAGRAPHS)
    assert result.returncode == 0, result.stderr
    got = [json.loads(line)["tags"] for line in result.stdout.splitlines()]
    assert got == [[map_tag("en-ptb", "universal", t) for _, t, _ in s]
                   for s in tagger.tag_text(PARAGRAPHS)]


@pytest.mark.parametrize("args, words", [
    (["--tokenized", "--split", "sentences"], ["--tokenized", "--split sentences"]),
    (["--tagset", "universal", "--format", "conllu"], ["conllu", "--tagset"]),
])
def test_cli_options_that_cannot_go_together_are_one_line_errors(args, words, capsys,
                                                                  one_line_error):
    with pytest.raises(SystemExit) as stop:
        tag.main([*args, "The dog"])
    captured = capsys.readouterr()
    one_line_error(subprocess.CompletedProcess(args, stop.value.code, captured.out, captured.err),
                   *words)


# The input ends with a line holding a byte that is not UTF-8, which reads as U+FFFD.
INPUT = ("\n".join(LINES) + "\n").encode() + b"bad \xff byte\n"


INPUT_TEXT = INPUT.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def input_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("input") / "text.txt"
    path.write_bytes(INPUT)
    return path


@pytest.fixture(scope="module")
def from_file(model_dir, input_file, run_tag):
    return run_tag("--model", str(model_dir), "--format", "json", "--split", "lines", "--file",
                   str(input_file))


def test_cli_file_by_lines_tags_every_line_in_order(tagger, from_file):
    assert from_file.returncode == 0, from_file.stderr
    out = [json.loads(line) for line in from_file.stdout.splitlines()]
    assert len(out) == len(LINES) + 1
    bad = ["bad", "\ufffd", "byte"]
    last = out.pop()
    assert last["tokens"] == bad and last["tags"] == [t for _, t in tagger.tag(bad)]
    for line, got in zip(LINES, out):
        forms = treebank(line)  # what the model reads; the input's own characters are printed
        assert got["tokens"] == own(INPUT_TEXT, got["spans"]) and len(got["tokens"]) == len(forms)
        assert got["tags"] == [t for _, t in tagger.tag(forms)]
    assert out[1] == out[3] == {"tokens": [], "tags": [], "spans": []}  # blank lines keep their place
    assert len(out[LINES.index(LONG)]["tags"]) == 2000


def test_cli_prints_the_inputs_quotes_and_reads_them_as_the_treebank_does(from_file):
    got = json.loads(from_file.stdout.splitlines()[4])
    assert got["tokens"] == ["He", "said", '"', "hello", ",", "world", '"', "and", "left", "."]
    assert treebank(LINES[4]) == ["He", "said", "``", "hello", ",", "world", "''", "and", "left",
                                  "."]


def test_cli_file_by_sentences_is_tag_text_with_spans_into_the_file(tagger, model_dir,
                                                                     input_file, run_tag):
    result = run_tag("--model", str(model_dir), "--format", "json", "--file", str(input_file))
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    expected = tagger.tag_text(INPUT_TEXT)
    assert [o["tokens"] for o in out] == [[w for w, _, _ in s] for s in expected]
    assert [o["tags"] for o in out] == [[t for _, t, _ in s] for s in expected]
    assert all(own(INPUT_TEXT, o["spans"]) == o["tokens"] for o in out)


def test_cli_stdin_gives_what_the_file_gives(model_dir, from_file, run_tag):
    # A strict decoder, as Python sets up stdin under an ordinary UTF-8 locale (C.UTF-8 is lax).
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    result = run_tag("--model", str(model_dir), "--format", "json", "--split", "lines",
                     input=INPUT, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == from_file.stdout


def test_cli_tokenized_keeps_tokens_as_given(tagger, model_dir, run_tag):
    line = 'He said "don\'t" (U.S.) naïve'
    result = run_tag("--model", str(model_dir), "--tokenized", "--format", "json", line)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["tokens"] == line.split() != treebank(line)
    assert got["tags"] == [t for _, t in tagger.tag(line.split())]


def test_cli_without_a_model_says_how_to_train_one(tmp_path, run_tag):
    result = run_tag("The dog", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no model in 'models/latest'")
    assert "python -m tagger.train --out models/latest" in lines[0]
    assert not (tmp_path / "models").exists()


def test_cli_missing_input_file_is_a_one_line_error(model_dir, tmp_path, run_tag):
    result = run_tag("--model", str(model_dir), "--file", str(tmp_path / "nope.txt"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [f"error: input file '{tmp_path / 'nope.txt'}' not found"]


# --- ensembles -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def other_model_dir(tmp_path_factory):
    """A second model, another seed: the other member of an ensemble."""
    out = tmp_path_factory.mktemp("tag") / "other"
    train(Config(**TINY, seed=2, out=str(out)), log=lambda message: None)
    return out


def test_an_ensemble_tags_with_the_mean_of_its_members_probabilities(model_dir, other_model_dir,
                                                                     toy_test):
    members = [PosTagger.load(folder, "cpu") for folder in (model_dir, other_model_dir)]
    ensemble = PosTagger.load([model_dir, other_model_dir], "cpu")
    sentences = [[w for w, _ in s] for s in toy_test]
    expected = []
    with torch.no_grad():
        for sentence in sentences:  # one at a time: no padding, no sorting
            probs = [m.model(m.vocab.batch([sentence])).exp()[0] for m in members]  # (T, tags)
            expected.append(members[0].vocab.decode_tags(((probs[0] + probs[1]) / 2)
                                                         .argmax(-1).tolist()))
    assert ensemble.predict(sentences) == expected
    # The check means something only where the members disagree, as two seeds do on the toy test.
    alone = [m.predict(sentences) for m in members]
    assert alone[0] != alone[1]
    assert ensemble.vocab is ensemble.members[0][1]


def test_cli_model_twice_tags_with_the_ensemble(model_dir, other_model_dir, run_tag):
    ensemble = PosTagger.load([model_dir, other_model_dir], "cpu")
    result = run_tag("--model", str(model_dir), "--model", str(other_model_dir), "--format",
                     "json", PARAGRAPHS)
    assert result.returncode == 0, result.stderr
    got = [json.loads(line)["tags"] for line in result.stdout.splitlines()]
    assert got == [[t for _, t, _ in s] for s in ensemble.tag_text(PARAGRAPHS)]


def test_an_ensemble_of_models_with_other_tags_is_a_one_line_error(model_dir, tmp_path, run_tag,
                                                                   one_line_error):
    import shutil
    other = tmp_path / "other"
    shutil.copytree(model_dir, other)
    vocab = json.loads((other / "vocab.json").read_text())
    vocab["tags"] = vocab["tags"][::-1]
    (other / "vocab.json").write_text(json.dumps(vocab))
    line = one_line_error(run_tag("--model", str(model_dir), "--model", str(other), "The dog"),
                          str(other), "same corpus")
    assert "other tags" in line


# --- any tokens, any company -----------------------------------------------------------------

# Any string at all is a token from Python, lone surrogates, controls and the empty string included.
TOKENS = st.text(st.characters(exclude_categories=()), max_size=12)
SENTENCES = st.lists(st.lists(TOKENS, max_size=30), max_size=6)


@settings(max_examples=60, deadline=None)
@given(sentences=SENTENCES)
def test_any_tokens_get_one_known_tag_each_in_order(tagger, sentences):
    tagged = tagger.tag_sents(sentences)
    assert [[w for w, _ in s] for s in tagged] == sentences
    assert all(t in tagger.vocab.tags for s in tagged for _, t in s)


def near_ties(tagger, sentence):
    """Positions where the model's two best tags are within float rounding of each other: there,
    another batch (other shapes, so other summation orders) may tip the choice either way."""
    with torch.inference_mode():
        best_two = tagger.model(tagger.vocab.batch([sentence]))[0].topk(2, dim=-1).values
    return {i for i, gap in enumerate((best_two[:, 0] - best_two[:, 1]).tolist()) if gap < 1e-5}


@settings(max_examples=60, deadline=None)
@given(sentence=st.lists(TOKENS, min_size=1, max_size=30), others=SENTENCES, data=st.data())
def test_a_sentence_s_tags_do_not_depend_on_its_batch_or_padding(tagger, sentence, others, data):
    position = data.draw(st.integers(0, len(others)))
    batch = others[:position] + [sentence] + others[position:]
    alone, batched = tagger.tag(sentence), tagger.tag_sents(batch)[position]
    assert [w for w, _ in batched] == sentence
    assert {i for i, (a, b) in enumerate(zip(alone, batched)) if a != b} <= near_ties(tagger,
                                                                                     sentence)


def test_long_sentences_are_cut_after_sentence_ends_within_the_limit():
    words = [f"w{i}" for i in range(25)]
    assert split_long(words, limit=25) == [words] and split_long([], limit=5) == [[]]
    # No sentence end: cut at the limit.
    assert split_long(words, limit=10) == [words[:10], words[10:20], words[20:]]
    # After the last "." (or "!", "?") in the window, unless that leaves half a window or less.
    text = "a b c . d e f g ? h i j k . l".split()
    assert split_long(text, limit=6) == [text[:4], text[4:9], text[9:]]
    assert split_long(". a b c d e f".split(), limit=4) == [[".", "a", "b", "c"], ["d", "e", "f"]]


def test_huge_input_is_tagged_in_batches_within_the_token_budget(tagger, monkeypatch):
    """Memory stays bounded: no batch holds more than the budget, however long the input."""
    sizes = []
    probabilities = tagger._probabilities

    def recording(sentences):
        sizes.append([len(s) for s in sentences])
        return probabilities(sentences)

    monkeypatch.setattr(tagger, "_probabilities", recording)
    huge = (LONG.split() * 50)[:100_000]
    tagged = tagger.tag_sents([huge, ["The", "dog"], huge[:5_000]])
    assert [len(s) for s in tagged] == [100_000, 2, 5_000]
    assert [w for w, _ in tagged[0]] == huge
    assert all(sum(batch) <= TOKENS_PER_BATCH and max(batch) <= MAX_SENTENCE_TOKENS
               for batch in sizes)
    # A long sentence is tagged as its pieces are.
    pieces = split_long(huge)
    assert tagger.tag(huge) == [pair for piece in tagger.tag_sents(pieces) for pair in piece]


# --- hostile input on the command line -------------------------------------------------------

HOSTILE = [
    "\x00nul \x07bell \x1b[31mred\x1b[0m tab\there \x0b\x0c \x1c\x1d\x1e\x1f \x7fdel \u200bzw \u2028ls "
    "\u202ertl \ufeffbom",
    "a stray \r return",
    "🙂 👍🏽 👨‍👩‍👧 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 e\u0301 \ufdfa Ελληνικά",
    "",
    " \t ",
    " ".join(["the", "dog", "ate", "an", "apple", "."] * 1666 + ["ok", "!", "fine", "."]),  # 10,000
    ("Colorless green ideas sleep furiously ; \"they\" said (twice) . " * 20_000)[:1_000_000],
]


@pytest.mark.slow
def test_cli_tags_hostile_and_huge_lines_one_tag_per_token(tagger, model_dir, tmp_path, run_tag):
    path = tmp_path / "hostile.txt"
    written = "\n".join(HOSTILE) + "\n"
    path.write_text(written, encoding="utf-8")
    result = run_tag("--model", str(model_dir), "--format", "json", "--split", "lines", "--file",
                     str(path))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(HOSTILE)  # one line out per line in, "\r" and all
    # In-process, batched as the command batches them: the same sums, so the very same tags.
    expected = tagger.tag_sents([tokenize(line) for line in HOSTILE])
    for line, got, tagged in zip(HOSTILE, out, expected):
        assert got["tokens"] == own(written, got["spans"]) and len(got["tags"]) == len(tagged)
        assert got["tags"] == [t for _, t in tagged]
    assert len(out[5]["tokens"]) == 10_000 and len(out[6]["tokens"]) > 200_000
    # By sentences (the default), the same text gives every token a tag all the same.
    result = run_tag("--model", str(model_dir), "--format", "json", "--file", str(path))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(len(o["tags"]) == len(o["tokens"]) == len(o["spans"]) for o in out)
    assert all(own(written, o["spans"]) == o["tokens"] for o in out)


def test_cli_reads_argument_bytes_that_are_not_utf8_as_replacement_characters(tagger, model_dir,
                                                                                run_cli):
    # A strict encoder, as Python sets up stdout under an ordinary UTF-8 locale (C.UTF-8 is lax).
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    result = subprocess.run([sys.executable, "-m", "tagger.tag", "--model", str(model_dir),
                             "--device", "cpu", b"caf\xe9 \xff ok"], env=env, capture_output=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    tokens = ["caf\ufffd", "\ufffd", "ok"]
    assert result.stdout.decode() == " ".join(f"{w}/{t}" for w, t in tagger.tag(tokens)) + "\n"


def test_cli_stops_quietly_when_the_reader_goes_away(model_dir, tmp_path):
    """`python -m tagger.tag --file big.txt | head -1`: no traceback when head exits."""
    path = tmp_path / "many.txt"
    path.write_text("The dog ate the apple\n" * 100_000)
    process = subprocess.Popen([sys.executable, "-m", "tagger.tag", "--model", str(model_dir),
                                "--device", "cpu", "--file", str(path), "--split", "lines"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.readline().startswith(b"The/")
    process.stdout.close()  # far more output is still to come than a pipe holds
    stderr = process.communicate(timeout=300)[1].decode()
    assert process.returncode == 1 and stderr == ""


# --- streaming and worker processes ----------------------------------------------------------


def test_cli_streams_a_pipe_window_by_window(tagger, model_dir):
    """Each window's output appears before the next input line is even written: the command reads
    and writes as it goes, so it holds a window, not the input."""
    process = subprocess.Popen([sys.executable, "-m", "tagger.tag", "--model", str(model_dir),
                                "--device", "cpu", "--threads", "1", "--window", "2", "--split",
                                "lines"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killer = threading.Timer(240, process.kill)  # a hung reader fails the test, not the suite
    killer.start()
    try:
        for sentences in (["The dog ate", "Dogs bark"], ["A cat .", ""], ["naïve café", "ok"]):
            process.stdin.write("".join(s + "\n" for s in sentences).encode())
            process.stdin.flush()
            for tagged in tagger.tag_sents(treebank(s) for s in sentences):  # batched alike
                expected = " ".join(f"{w}/{t}" for w, t in tagged)
                assert process.stdout.readline().decode() == expected + "\n"
        process.stdin.close()
        assert process.stdout.read() == b""
        assert process.wait() == 0, process.stderr.read().decode()
    finally:
        killer.cancel()
        process.kill()  # a no-op once it has ended
        process.wait()


def test_cli_answers_each_paragraph_of_a_pipe_once_its_blank_line_comes(tagger, model_dir):
    process = subprocess.Popen([sys.executable, "-m", "tagger.tag", "--model", str(model_dir),
                                "--device", "cpu", "--threads", "1", "--window", "1"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killer = threading.Timer(240, process.kill)
    killer.start()
    try:
        for paragraph in ("The dog ate. Dogs bark.\nA cat .\n", "naïve café\n"):
            process.stdin.write((paragraph + "\n").encode())  # the blank line ends it
            process.stdin.flush()
            for tagged in tagger.tag_text(paragraph):
                expected = " ".join(f"{w}/{t}" for w, t, _ in tagged)
                assert process.stdout.readline().decode() == expected + "\n"
        process.stdin.close()
        assert process.stdout.read() == b"" and process.wait() == 0
    finally:
        killer.cancel()
        process.kill()
        process.wait()


# Thousands of numbered lines (so that any reordering shows), with empty and blank lines, odd
# characters and bytes that are not UTF-8 among them.
ODD = ["", "  \t", "naïve café 🙂 日本語", "\x00nul \x1b[31mred", "a stray \r return", "e\u0301 \u202e",
       'He said "hello, world" .', "The dog ate the apple ."]
MANY = b"".join(f"{i} {ODD[i % len(ODD)]} {'word ' * (i % 37)}\n".encode() if i % 11 else b"\n"
                for i in range(3000)) + b"bad \xff byte\n"


@pytest.fixture(scope="module")
def many_lines(tmp_path_factory):
    path = tmp_path_factory.mktemp("many") / "many.txt"
    path.write_bytes(MANY)
    return path


MANY_LINES = MANY.decode("utf-8", "replace").split("\n")[:-1]  # as the command reads them


@pytest.fixture(scope="module")
def tag_many(model_dir, many_lines, run_tag):
    """tag_many(*args): the command's result on the file of MANY, one thread a process, run once
    for each set of arguments."""
    results = {}

    def run(*args):
        if args not in results:
            results[args] = run_tag("--model", str(model_dir), "--threads", "1",
                                    "--file", str(many_lines), *args)
        return results[args]

    return run


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["json", "conllu"])
def test_cli_workers_give_the_output_of_one_process(tagger, tag_many, fmt):
    """(The timing test below checks the same for --format conll by lines.) CoNLL-U numbers
    sentences over the whole input, whichever worker tagged them."""
    one = tag_many("--format", fmt, "--window", "100")  # dozens of windows, for two workers
    two = tag_many("--format", fmt, "--window", "100", "--workers", "2")
    assert one.returncode == two.returncode == 0 and one.stderr == two.stderr == "", two.stderr
    assert two.stdout == one.stdout
    if fmt == "conllu":
        import conllu

        ids = [s.metadata["sent_id"] for s in conllu.parse(one.stdout)]
        assert ids == [str(k) for k in range(1, len(ids) + 1)] and len(ids) > 200
        return
    # Every sentence in order, tagged as in-process tagging of the same text tags it.
    out = [json.loads(line) for line in one.stdout.splitlines()]
    text = MANY.decode("utf-8", "replace")
    assert all(own(text, o["spans"]) == o["tokens"] for o in out)
    assert [t for o in out for t in o["tokens"]] == [
        w for s in tagger.tag_text(text) for w, _, _ in s]


@pytest.mark.slow
def test_cli_workers_by_lines_give_every_line_in_order(tagger, tag_many):
    one = tag_many("--format", "json", "--window", "100", "--split", "lines")  # 31 windows
    two = tag_many("--format", "json", "--window", "100", "--split", "lines", "--workers", "2")
    assert one.returncode == two.returncode == 0 and one.stderr == two.stderr == "", two.stderr
    assert two.stdout == one.stdout
    out = [json.loads(line) for line in one.stdout.splitlines()]
    assert [len(o["tokens"]) for o in out] == [len(tokenize(line)) for line in MANY_LINES]
    assert [o["tokens"][:1] for o in out[:-1]] == [[str(i)] if i % 11 else [] for i in range(3000)]
    expected = [t for start in range(0, len(MANY_LINES), 100)
                for t in tagger.tag_sents(tokenize(line) for line in MANY_LINES[start:start + 100])]
    assert [o["tags"] for o in out] == [[t for _, t in s] for s in expected]


def test_cli_streamed_output_is_what_predict_gives(tagger, tag_many):
    """The default window holds the whole file: the output is predict's over all of its lines."""
    result = tag_many("--format", "conll", "--tokenized")
    assert result.returncode == 0, result.stderr
    sentences = [line.split() for line in MANY_LINES]
    tags = tagger.predict(sentences)
    assert result.stdout == "".join("".join(f"{w}\t{t}\n" for w, t in zip(s, t)) + "\n"
                                    for s, t in zip(sentences, tags))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_cli_timing_reports_on_stderr_only(tag_many, workers):
    args = ("--format", "conll", "--window", "100", "--split", "lines")
    timed = tag_many(*args, "--workers", workers, "--timing")
    assert timed.returncode == 0
    assert timed.stdout == tag_many(*args).stdout
    [line] = timed.stderr.splitlines()
    tokens = sum(len(tokenize(line)) for line in MANY_LINES)
    assert line.startswith("timing: ") and f"tagged {tokens:,} tokens" in line
    assert "tokens/s" in line and "peak RSS" in line
    assert line.endswith(f"; products: {products()}")  # the CPU path, as this environment has it


def test_cli_workers_without_a_model_is_a_one_line_error(tmp_path, run_tag, one_line_error):
    """The workers' failure to load the model reaches the user as the one line it is with one."""
    one_line_error(run_tag("--workers", "2", "--model", "nope", "The dog", cwd=tmp_path),
                   "no model in 'nope'")


@pytest.mark.parametrize("args, words", [
    (["--workers", "0"], ["--workers must be at least 1"]),
    (["--window", "0"], ["--window must be at least 1"]),
    (["--threads", "-1"], ["--threads must be at least 0"]),
])
def test_cli_bad_counts_are_one_line_errors(args, words, capsys, one_line_error):
    with pytest.raises(SystemExit) as stop:  # in-process: refused before any model is loaded
        tag.main([*args, "The dog"])
    captured = capsys.readouterr()
    result = subprocess.CompletedProcess(args, stop.value.code, captured.out, captured.err)
    one_line_error(result, *words)


def test_cli_workers_missing_input_file_is_a_one_line_error(model_dir, tmp_path, run_tag,
                                                            one_line_error):
    result = run_tag("--model", str(model_dir), "--workers", "2", "--threads", "1",
                     "--file", str(tmp_path / "nope.txt"))
    assert one_line_error(result) == f"error: input file '{tmp_path / 'nope.txt'}' not found"
