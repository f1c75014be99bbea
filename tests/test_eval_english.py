"""Tests for scripts/eval_english.py: the treebank test split and MASC dev, by genre."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TINY_FLAGS, needs_nltk
from tagger import data

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "eval_english.py"
TINY = ["--corpus", "toy", "--epochs", "2", *TINY_FLAGS]

pytestmark = needs_nltk("corpora/masc_tagged")


def run(tmp_path, *args):
    report = tmp_path / "report"
    result = subprocess.run([sys.executable, str(SCRIPT), *TINY, "--report", str(report), *args],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    return json.loads((report / "report.json").read_text()), (report / "report.md").read_text()


@pytest.mark.slow
def test_trained_rows_are_scored_as_their_model_folders_are(tmp_path):
    models = tmp_path / "models"
    trained, markdown = run(tmp_path, "--encoders", "hand", "--models", str(models),
                            "--ensemble", "2")
    perceptron, hand = trained["results"]["NLTK perceptron"][0], trained["results"]["hand"][0]
    genres = data.masc_dev()
    assert set(hand["genres"]) == set(genres) and len(genres) == 16
    assert hand["masc_tokens"] == sum(t is not None for s in sum(genres.values(), [])
                                      for _, t in s)
    # the overall figure is the token-weighted mean of the genres'
    weighted = sum(hand["genres"][g] * sum(t is not None for s in genres[g] for _, t in s)
                   for g in genres) / hand["masc_tokens"]
    assert abs(hand["masc_accuracy"] - weighted) < 1e-9
    assert 0 < perceptron["masc_accuracy"] < 1 and 0 < perceptron["test_accuracy"] < 1
    assert "python -m tagger.train --corpus toy --epochs 2" in markdown  # its flags, repeated
    # --ensemble 2: seed 1's ensemble is the models of seeds 1 and 1001
    assert "--seed 1001" in markdown and len(trained["results"]["hand-ensemble2"]) == 1
    one, two = str(models / "toy-hand-seed1"), str(models / "toy-hand-seed1001")
    scored, _ = run(tmp_path, "--score", one, f"{one}+{two}")
    for name, row in ((one, hand), (f"{one}+{two}", trained["results"]["hand-ensemble2"][0])):
        again = scored["results"][name][0]
        for key in ("test_accuracy", "masc_accuracy", "masc_unknown_accuracy", "genres"):
            assert again[key] == row[key]
    assert hand["masc_accuracy"] != trained["results"]["hand-ensemble2"][0]["masc_accuracy"]
