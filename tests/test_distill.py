"""Tests for tagger.distill: each token's silver target from its teachers' probabilities (soft,
top, agree), silver records from a real tiny teacher, the command line end to end (silver file,
student model that names it), its errors, and tagger.data.read_silver's reading of the file."""

import json

import pytest
import torch

from conftest import TINY_FLAGS, TINY_RUN
from tagger import rawtext, silver
from tagger.config import Config
from tagger.data import read_silver
from tagger.errors import CorpusFormatError
from tagger.tag import PosTagger
from tagger.train import train

TAGS = ["DT", "NN", "VB"]
SENTENCES = [["The", "dog", "ate", "the", "apple"], ["A", "cat", "sleeps", "."],
             ["Dogs", "bark"], ["The", "apple", "fell", "."]]


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A tiny toy model, trained fast enough that its probabilities are far from uniform."""
    folder = tmp_path_factory.mktemp("teacher") / "model"
    train(Config(**{**TINY_RUN, "epochs": 5, "lr": 0.03, "out": str(folder)}), log=lambda m: None)
    return folder


def targets(rows, kind):
    """silver_targets of probabilities given as (teachers, tokens, num_tags) nested lists."""
    return silver.silver_targets(torch.tensor(rows, dtype=torch.float64), TAGS, kind)


# --- silver_targets ------------------------------------------------------------------------------


def test_soft_targets_keep_the_likely_tags_with_their_probability():
    found = targets([[[0.7, 0.29, 0.01], [0.0, 0.0099, 0.9901]]], "soft")
    assert found == [{"DT": 0.7, "NN": 0.29, "VB": 0.01}, {"VB": 0.9901}]
    assert silver.MIN_PROBABILITY == 0.01  # the threshold the rows above straddle


def test_soft_targets_of_several_teachers_are_their_mean():
    found = targets([[[0.6, 0.4, 0.0], [1.0, 0.0, 0.0]],
                     [[0.2, 0.8, 0.0], [0.0, 0.5, 0.5]]], "soft")
    assert len(found) == 2
    assert found[0] == pytest.approx({"DT": 0.4, "NN": 0.6})
    assert found[1] == pytest.approx({"DT": 0.5, "NN": 0.25, "VB": 0.25})


def test_top_targets_give_the_best_tag_of_the_mean_alone():
    # Token 0: the first teacher's best (DT) wins on the mean though the second's best is NN.
    found = targets([[[0.9, 0.1, 0.0], [0.1, 0.2, 0.7]],
                     [[0.0, 0.6, 0.4], [0.1, 0.2, 0.7]]], "top")
    assert found == [{"DT": 1.0}, {"VB": 1.0}]


def test_agree_targets_keep_a_tag_only_where_every_teacher_picks_it():
    rows = [[[0.9, 0.1, 0.0], [0.4, 0.6, 0.0], [0.1, 0.1, 0.8]],
            [[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.2, 0.3, 0.5]],
            [[0.5, 0.2, 0.3], [0.0, 1.0, 0.0], [0.0, 0.4, 0.6]]]
    assert targets(rows, "agree") == [{"DT": 1.0}, {}, {"VB": 1.0}]
    assert targets(rows[:1], "agree") == [{"DT": 1.0}, {"NN": 1.0}, {"VB": 1.0}]


# --- tag_silver with a real teacher --------------------------------------------------------------


def test_soft_silver_of_a_teacher_is_its_probabilities(teacher, monkeypatch):
    model = PosTagger.load(teacher, "cpu")
    monkeypatch.setattr(silver, "CHUNK", 3)  # two chunks: 3 sentences, then 1
    records = list(silver.tag_silver([model], SENTENCES, "soft"))
    assert [r["tokens"] for r in records] == SENTENCES
    predicted = model.predict(SENTENCES)
    for record, tags, probabilities in zip(records, predicted, model.predict_proba(SENTENCES)):
        assert len(record["tags"]) == len(record["tokens"]) == probabilities.shape[0]
        assert [max(found, key=found.get) for found in record["tags"]] == tags
        for found, row in zip(record["tags"], probabilities.tolist()):
            expected = {t: p for t, p in zip(model.vocab.tags, row) if p >= silver.MIN_PROBABILITY}
            assert found.keys() == expected.keys()
            assert found == pytest.approx(expected, abs=1e-4)
    # Far from uniform: sure tokens, and tags below MIN_PROBABILITY left out.
    assert max(max(found.values()) for r in records for found in r["tags"]) > 0.5
    assert min(len(found) for r in records for found in r["tags"]) < len(model.vocab.tags)


def test_top_and_agree_silver_of_one_model_are_its_predicted_tags(teacher):
    model = PosTagger.load(teacher, "cpu")
    expected = [[{tag: 1.0} for tag in tags] for tags in model.predict(SENTENCES)]
    top = list(silver.tag_silver([model], SENTENCES, "top"))
    agree = list(silver.tag_silver([model, model], SENTENCES, "agree"))
    assert [r["tags"] for r in top] == [r["tags"] for r in agree] == expected


# --- the command line ----------------------------------------------------------------------------


STUDENT_FLAGS = ["--corpus", "toy", "--epochs", "1", *TINY_FLAGS]


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "raw.txt"
    path.write_text("The dog ate the apple. A cat didn't sleep!\nThe apple fell.\n\nDogs bark\n")
    return path


def test_distill_writes_the_silver_file_and_a_student_that_learned_from_it(teacher, text_file,
                                                                          tmp_path, run_cli):
    out = tmp_path / "student"
    result = run_cli("tagger.distill", "--teacher", str(teacher), "--text", str(text_file),
                     "--out", str(out), *STUDENT_FLAGS)
    assert result.returncode == 0, result.stderr
    silver = tmp_path / "student.silver.jsonl"
    sentences = list(rawtext.read_text(str(text_file)))
    assert len(sentences) == 4
    lines = silver.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["tokens"] for line in lines] == sentences
    assert [[w for w, _ in s] for s in read_silver(silver)] == sentences
    assert (out / "model.safetensors").is_file()
    assert json.loads((out / "config.json").read_text())["silver"] == str(silver)
    assert "silver: 4 sentences" in result.stderr


def test_agree_with_one_teacher_is_a_one_line_error(teacher, text_file, tmp_path, run_cli,
                                                    one_line_error):
    out = tmp_path / "student"
    result = run_cli("tagger.distill", "--teacher", str(teacher), "--text", str(text_file),
                     "--targets", "agree", "--out", str(out), *STUDENT_FLAGS)
    one_line_error(result, "--targets agree", "two --teacher")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw.txt"]  # no silver, no student


def test_a_missing_teacher_is_an_argparse_error(text_file, tmp_path, run_cli):
    result = run_cli("tagger.distill", "--text", str(text_file), "--out", str(tmp_path / "s"),
                     *STUDENT_FLAGS)
    assert result.returncode == 2
    assert "--teacher" in result.stderr and "required" in result.stderr
    assert "Traceback" not in result.stderr


# --- read_silver ---------------------------------------------------------------------------------


def test_read_silver_reads_tokens_with_their_tag_probabilities(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"tokens": ["Dogs", "bark"], "tags": [{"NNS": 0.9, "NN": 0.1}, {}]}\n\n'
                    '{"tokens": [], "tags": []}\n', encoding="utf-8")
    assert read_silver(path) == [[("Dogs", {"NNS": 0.9, "NN": 0.1}), ("bark", {})]]


@pytest.mark.parametrize("bad", [
    "not json",
    '{"tokens": ["a"]}',
    '{"tokens": ["a", "b"], "tags": [{"NN": 1.0}]}',
    '{"tokens": ["a"], "tags": ["NN"]}',
    '["a", "b"]',
])
def test_a_malformed_silver_line_is_an_error_naming_file_and_line(tmp_path, bad):
    path = tmp_path / "s.jsonl"
    path.write_text('{"tokens": ["a"], "tags": [{"DT": 1.0}]}\n\n' + bad + "\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError) as error:
        read_silver(path)
    assert str(error.value).startswith(f"{path}:3: not a silver sentence")
    assert "\n" not in str(error.value)
