"""Tests for tagger.vocab: indexes built from training sentences, batch tensors, JSON round trip."""

import json

import pytest
import torch

from tagger.config import FORMAT_VERSION
from tagger.errors import TaggerError
from tagger.vocab import PAD, UNK, Vocab

TRAIN = [
    [("The", "DT"), ("dog", "NN"), ("ate", "VBD"), ("the", "DT"), ("apple", "NN")],
    [("Everybody", "NN"), ("read", "VBD"), ("that", "DT"), ("book", "NN"), (".", ".")],
]


@pytest.fixture
def vocab():
    return Vocab.build(TRAIN)


def test_build_lower_cases_words_and_counts_them(vocab):
    assert vocab.words[:3] == [PAD, UNK, "the"]
    assert "The" not in vocab.words and "everybody" in vocab.words
    assert vocab.word_counts[vocab.word_id("THE")] == 2 and vocab.word_counts[:2] == [0, 0]
    assert len(vocab.word_counts) == len(vocab.words)
    assert vocab.tags == [".", "DT", "NN", "VBD"]
    assert vocab.chars[:2] == [PAD, UNK] and {"T", "E", "t"} <= set(vocab.chars)


def test_unknown_words_map_to_unk_and_known_forms_keep_case(vocab):
    assert vocab.word_id("zebra") == 1 and vocab.word_id("Dog") == vocab.word_id("dog") > 1
    assert vocab.is_known("The") and vocab.is_known("the") and vocab.is_known("Everybody")
    assert not vocab.is_known("everybody") and not vocab.is_known("zebra")


def test_batch_pads_and_deduplicates_forms(vocab):
    sentences = [["The", "dog"], ["the", "The", "zebra", "Q"]]
    tags = [["DT", "NN"], ["DT", "DT", "NN", "XX"]]
    batch = vocab.batch(sentences, tags)
    assert batch.words.shape == batch.forms.shape == batch.tags.shape == (2, 4)
    assert batch.words.dtype == batch.tags.dtype == batch.chars.dtype == torch.long
    assert batch.lengths.tolist() == [2, 4]
    assert batch.words[0, 2:].tolist() == [0, 0] and batch.tags[0, 2:].tolist() == [-100, -100]
    assert batch.words[1].tolist() == [vocab.word_id("the")] * 2 + [1, 1]
    # "The" twice counts once; "the" is a form of its own because the characters see case.
    assert batch.forms.tolist() == [[0, 1, 0, 0], [2, 0, 3, 4]]
    assert batch.chars.shape == (5, 5) and batch.char_lengths.tolist() == [3, 3, 3, 5, 1]
    assert batch.chars[0].tolist() == [vocab.chars.index(c) for c in "The"] + [0, 0]
    assert batch.chars[3, 0] == 1 and batch.chars[4, 0] == 1  # "z" and "Q" were never seen
    assert batch.tags[1].tolist() == [vocab.tags.index("DT")] * 2 + [vocab.tags.index("NN"), -100]


def test_known_forms_get_no_characters_and_come_after_the_new_ones(vocab):
    sentences = [["The", "dog"], ["the", "The", "zebra", "Q"]]
    plain = vocab.batch(sentences)
    batch = vocab.batch(sentences, known={"The": 7, "zebra": 3, "cat": 0})
    assert batch.new_forms == ["dog", "the", "Q"] and batch.cached.tolist() == [7, 3]
    assert batch.char_lengths.tolist() == [3, 3, 1]
    assert batch.forms.tolist() == [[3, 0, 0, 0], [1, 3, 4, 2]]  # "The" and "zebra": 3 and 4
    assert torch.equal(batch.words, plain.words) and torch.equal(batch.lengths, plain.lengths)
    everything = vocab.batch([["dog", "the"]], known={"dog": 1, "the": 0})
    assert everything.chars.shape == (0, 0) and everything.cached.tolist() == [1, 0]
    assert plain.new_forms == ["The", "dog", "the", "zebra", "Q"] and plain.cached is None


def test_frequent_forms_come_by_their_word_s_count_then_alphabetically(vocab):
    forms = vocab.frequent_forms(len(vocab.forms))
    assert sorted(forms) == sorted(vocab.forms) and vocab.frequent_forms(2) == forms[:2]
    counts = [vocab.word_counts[vocab.word_id(f)] for f in forms]
    assert counts == sorted(counts, reverse=True)
    assert all(a < b for a, b, c, d in zip(forms, forms[1:], counts, counts[1:]) if c == d)


def test_batch_without_tags_and_decode_round_trip(vocab):
    batch = vocab.batch([["a"]])
    assert batch.tags is None
    tags = [tag for _, tag in TRAIN[0]]
    encoded = vocab.batch([[w for w, _ in TRAIN[0]]], [tags]).tags[0]
    assert vocab.decode_tags(encoded) == tags and vocab.decode_tags(encoded.tolist()) == tags


@pytest.mark.parametrize("sentences", [[], [["a"], []]])
def test_batch_refuses_empty_sentences(vocab, sentences):
    with pytest.raises(ValueError):
        vocab.batch(sentences)


def test_an_empty_word_reads_as_one_unknown_character(vocab):
    batch = vocab.batch([["a", ""]])
    assert batch.char_lengths.tolist() == [1, 1] and batch.chars[1, 0] == 1


def test_to_moves_ids_but_keeps_lengths_on_cpu(vocab):
    batch = vocab.batch([["The", "dog"]], [["DT", "NN"]]).to("meta")
    assert all(t.is_meta for t in (batch.words, batch.chars, batch.forms, batch.tags))
    assert batch.lengths.device.type == batch.char_lengths.device.type == "cpu"


def test_json_round_trip_keeps_everything_and_stays_compact(vocab):
    text = vocab.to_json()
    assert json.loads(text)["format_version"] == FORMAT_VERSION
    again = Vocab.from_json(text)
    assert again == vocab and again.word_id("apple") == vocab.word_id("apple")
    assert again.is_known("Everybody") and not again.is_known("everybody")
    # Only forms that are not their own lower-cased word are stored separately.
    assert json.loads(text)["extra_forms"] == ["Everybody", "The"]
    assert json.loads(text)["unseen_words"] == ["everybody"]


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(format_version=FORMAT_VERSION + 1), "format version"),
    (lambda d: d.pop("tags"), "malformed tags"),
    (lambda d: d.update(words=["a", "b"]), "malformed words"),
    (lambda d: d.update(tags=[["NN"]]), "malformed entries"),
])
def test_from_json_refuses_other_versions_and_damage(vocab, edit, message):
    saved = json.loads(vocab.to_json())
    edit(saved)
    with pytest.raises(TaggerError, match=f"{message}.*retrain"):
        Vocab.from_json(json.dumps(saved))


def test_from_json_refuses_invalid_json():
    with pytest.raises(TaggerError, match="vocab.json is not valid JSON.*retrain"):
        Vocab.from_json("{not json")
    with pytest.raises(TaggerError, match="format version None"):
        Vocab.from_json("[1, 2]")


def test_silver_tokens_give_soft_targets_and_no_tag_id():
    # A silver token's tag is a dict of a teacher's probabilities (tagger.distill): it adds its
    # words to the vocabulary but no tag, and becomes a row of `soft` with no id in `tags`.
    silver = [("Dogs", {"NNS": 0.9, "VBZ": 0.1}), ("bark", {"VBP": 0.7, "NN": 0.3}), ("!", {})]
    vocab = Vocab.build(TRAIN + [silver])
    assert vocab.tags == [".", "DT", "NN", "VBD"] and vocab.is_known("Dogs")
    batch = vocab.batch([["The", "dog"], [w for w, _ in silver]],
                        [["DT", "NN"], [p for _, p in silver]])
    assert batch.tags.tolist() == [[1, 2, -100], [-100, -100, -100]]
    expected = torch.zeros(2, 3, 4)
    expected[1, 1, vocab.tags.index("NN")] = 0.3  # tags the student lacks are left out
    assert torch.equal(batch.soft, expected)
    assert vocab.batch([["The", "dog"]], [["DT", "NN"]]).soft is None
