"""Tests for tagger.evaluate: metrics checked against hand counts and scikit-learn, tables and plots."""

import random

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, classification_report

from tagger.evaluate import (agreement, evaluate, per_tag_table, plot_confusion, plot_curves,
                             summary_table)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Two sentences, 7 tokens; "zorp" and "blick" are the unknown words.
GOLD = [
    [("the", "DT"), ("dog", "NN"), ("barks", "VBZ"), ("zorp", "NN")],
    [("a", "DT"), ("blick", "JJ"), ("cat", "NN")],
]
PREDICTED = [["DT", "NN", "NNS", "NN"], ["DT", "NN", "NN"]]
KNOWN = {"the", "dog", "barks", "a", "cat"}


def small_result():
    return evaluate(GOLD, PREDICTED, KNOWN.__contains__)


def random_corpus(seed=0, sentences=200):
    """Random gold and noisy predictions over a small tag set, with about a fifth of words unknown."""
    rng = random.Random(seed)
    tags = ["DT", "NN", "NNS", "VB", "VBZ", "JJ", "IN", "RB"]
    gold, predicted = [], []
    for _ in range(sentences):
        length = rng.randint(1, 12)
        sentence = [(f"w{rng.randrange(50)}", rng.choice(tags)) for _ in range(length)]
        gold.append(sentence)
        predicted.append([t if rng.random() < 0.7 else rng.choice(tags + ["FW"]) for _, t in sentence])
    return gold, predicted


def test_small_example_against_hand_counts():
    result = small_result()
    assert result["tokens"] == 7
    assert result["accuracy"] == pytest.approx(5 / 7)
    # known: the dog barks a cat -> barks wrong; unknown: zorp right, blick wrong
    assert (result["known_tokens"], result["unknown_tokens"]) == (5, 2)
    assert result["known_accuracy"] == pytest.approx(4 / 5)
    assert result["unknown_accuracy"] == pytest.approx(1 / 2)

    per_tag = result["per_tag"]
    assert list(per_tag) == ["DT", "JJ", "NN", "NNS", "VBZ"]  # gold ∪ predicted, sorted
    # NN: gold 3, predicted 4, correct 3
    assert per_tag["NN"]["precision"] == pytest.approx(3 / 4)
    assert per_tag["NN"]["recall"] == pytest.approx(1.0)
    assert per_tag["NN"]["f1"] == pytest.approx(2 * 0.75 / 1.75)
    assert per_tag["NN"]["support"] == 3
    assert per_tag["DT"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
    # Predicted but never gold, and gold but never predicted: zero_division gives 0, not a warning.
    assert per_tag["NNS"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert per_tag["JJ"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_small_example_against_numpy():
    result = small_result()
    y_true = np.array([t for s in GOLD for _, t in s])
    y_pred = np.array([t for s in PREDICTED for t in s])
    known = np.array([w in KNOWN for s in GOLD for w, _ in s])
    assert result["accuracy"] == pytest.approx(np.mean(y_true == y_pred))
    assert result["known_accuracy"] == pytest.approx(np.mean((y_true == y_pred)[known]))
    assert result["unknown_accuracy"] == pytest.approx(np.mean((y_true == y_pred)[~known]))


def test_random_example_against_sklearn():
    gold, predicted = random_corpus()
    is_known = lambda word: int(word[1:]) < 40  # noqa: E731
    result = evaluate(gold, predicted, is_known)

    y_true = [t for s in gold for _, t in s]
    y_pred = [t for s in predicted for t in s]
    known = [is_known(w) for s in gold for w, _ in s]
    assert result["tokens"] == len(y_true)
    assert result["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    for group, keep in (("known", True), ("unknown", False)):
        true = [t for t, k in zip(y_true, known) if k == keep]
        pred = [p for p, k in zip(y_pred, known) if k == keep]
        assert result[f"{group}_accuracy"] == pytest.approx(accuracy_score(true, pred))
    assert result["known_tokens"] + result["unknown_tokens"] == result["tokens"]
    assert 0 < result["unknown_tokens"] < result["tokens"]

    report = classification_report(y_true, y_pred, output_dict=True, zero_division=0)
    assert "FW" in result["per_tag"]  # only ever predicted
    for tag, scores in result["per_tag"].items():
        assert scores["precision"] == pytest.approx(report[tag]["precision"])
        assert scores["recall"] == pytest.approx(report[tag]["recall"])
        assert scores["f1"] == pytest.approx(report[tag]["f1-score"])
        assert scores["support"] == report[tag]["support"]


def test_values_are_plain_python_types():
    result = small_result()
    for key in ("accuracy", "known_accuracy", "unknown_accuracy"):
        assert type(result[key]) is float
    for scores in result["per_tag"].values():
        assert type(scores["support"]) is int
        assert all(type(scores[m]) is float for m in ("precision", "recall", "f1"))


def test_empty_groups_give_none():
    all_known = evaluate(GOLD, PREDICTED, lambda word: True)
    assert all_known["unknown_tokens"] == 0 and all_known["unknown_accuracy"] is None
    assert all_known["known_accuracy"] == pytest.approx(5 / 7)

    all_unknown = evaluate(GOLD, PREDICTED, lambda word: False)
    assert all_unknown["known_tokens"] == 0 and all_unknown["known_accuracy"] is None

    nothing = evaluate([], [], lambda word: True)
    assert nothing["tokens"] == 0 and nothing["accuracy"] is None and nothing["per_tag"] == {}


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="sentence 1 has 2 tags, expected 3"):
        evaluate(GOLD, [["DT", "NN", "VBZ", "NN"], ["DT", "NN"]], KNOWN.__contains__)
    with pytest.raises(ValueError, match="1 sentences, expected 2"):
        evaluate(GOLD, PREDICTED[:1], KNOWN.__contains__)


def test_agreement():
    assert agreement(PREDICTED, PREDICTED) == 1.0
    gold_tags = [[t for _, t in s] for s in GOLD]
    assert agreement(gold_tags, PREDICTED) == pytest.approx(5 / 7)
    assert agreement(PREDICTED, gold_tags) == agreement(gold_tags, PREDICTED)
    assert agreement([], []) is None
    with pytest.raises(ValueError):
        agreement([["DT"]], [["DT", "NN"]])


def table_rows(table):
    """Cells of each row of a Markdown table, header first, alignment row dropped."""
    lines = table.strip().splitlines()
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    assert set(lines[1]) <= set("|-: ")
    return [rows[0]] + rows[2:]


def test_per_tag_table():
    other = evaluate(GOLD, [["DT", "NN", "VBZ", "NN"], ["DT", "JJ", "NN"]], KNOWN.__contains__)
    header, *rows = table_rows(per_tag_table({"hand": small_result(), "torch": other}))
    assert header == ["tag", "support", "hand P", "hand R", "hand F1", "torch P", "torch R", "torch F1"]
    # Support descending, ties by name; NNS was only predicted, so min_support=1 drops it.
    assert [row[0] for row in rows] == ["NN", "DT", "JJ", "VBZ"]
    assert rows[0][:5] == ["NN", "3", "75.0", "100.0", "85.7"]
    assert rows[0][5:] == ["100.0", "100.0", "100.0"]

    everything = table_rows(per_tag_table({"hand": small_result()}, min_support=0))
    assert [row[0] for row in everything[1:]] == ["NN", "DT", "JJ", "VBZ", "NNS"]
    common = table_rows(per_tag_table({"hand": small_result()}, min_support=2))
    assert [row[0] for row in common[1:]] == ["NN", "DT"]


def test_per_tag_table_marks_tags_missing_from_a_result():
    only_dt = evaluate([[("the", "DT")]], [["DT"]], KNOWN.__contains__)
    _, *rows = table_rows(per_tag_table({"hand": small_result(), "tiny": only_dt}))
    nn = next(row for row in rows if row[0] == "NN")
    assert nn[5:] == ["–", "–", "–"]


def test_summary_table():
    full = dict(small_result(), train_seconds=12.345, tokens_per_second=45678.9, epochs=7)
    no_unknown = dict(evaluate(GOLD, PREDICTED, lambda word: True), epochs=3)
    header, *rows = table_rows(summary_table({"hand": full, "torch": no_unknown}))
    assert header[:4] == ["tagger", "accuracy %", "known %", "unknown %"]
    assert len(header) == 7  # one column each for the three extras
    assert rows[0][:4] == ["hand", "71.4", "80.0", "50.0"]
    assert rows[1][:4] == ["torch", "71.4", "71.4", "–"]
    assert "12.3" in rows[0] and "45,679" in rows[0] and "7" in rows[0]
    assert rows[1].count("–") == 3  # unknown %, train seconds, tokens per second

    plain = table_rows(summary_table({"hand": small_result()}))
    assert len(plain[0]) == 4  # no extra columns when no row has them


def assert_png(path):
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_SIGNATURE)


def test_plot_confusion_writes_png(tmp_path):
    gold, predicted = random_corpus(sentences=50)
    path = tmp_path / "plots" / "confusion.png"
    plot_confusion(gold, predicted, path, "Confusion", top=5)
    assert_png(path)
    with pytest.raises(ValueError):
        plot_confusion(GOLD, PREDICTED[:1], tmp_path / "bad.png", "Bad")


def test_plot_curves_writes_png(tmp_path):
    histories = {
        name: [{"epoch": e, "loss": 1.0 / (e + shift), "dev_accuracy": 0.8 + 0.02 * e} for e in range(1, 6)]
        for name, shift in (("hand", 0), ("torch", 1))
    }
    path = tmp_path / "curves.png"
    plot_curves(histories, str(path))
    assert_png(path)

