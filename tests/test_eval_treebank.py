"""Tests for scripts/eval_treebank.py, on the toy corpus at tiny sizes: its ensemble rows are what
tagger.tag's ensemble of the very member models it names scores, the single rows reuse them, and
--jobs trains, in several processes, the very models that one at a time gives."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TINY_FLAGS
from tagger import data, evaluate
from tagger.config import Config
from tagger.errors import TaggerError
from tagger.tag import PosTagger
from tagger.train import train

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "eval_treebank.py"
TINY = ["--corpus", "toy", "--epochs", "4", *TINY_FLAGS]


def run(models, report, *args):
    result = subprocess.run([sys.executable, str(SCRIPT), *TINY, "--ensemble", "2", "--seeds", "1",
                             "--models", str(models), "--report", str(report), *args],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads((report / "report.json").read_text())["results"]


@pytest.fixture(scope="module")
def together(tmp_path_factory):
    """(models folder, results) of the script run with --jobs 2, which two tests read."""
    root = tmp_path_factory.mktemp("together")
    return root / "models", run(root / "models", root / "report", "--jobs", "2")


@pytest.mark.slow
def test_ensemble_rows_score_the_ensemble_of_their_members(together):
    models, results = together
    # Seed 1's ensemble is the models of seeds 1 and 1001, and seed 1's single row is the first.
    assert sorted(p.name for p in models.iterdir()) == [
        "toy-hand-seed1", "toy-hand-seed1001", "toy-torch-seed1", "toy-torch-seed1001"]
    assert set(results) == {"NLTK perceptron", "hand", "torch", "hand-ensemble2",
                            "torch-ensemble2"}
    test = data.read_tagged(data.TOY_DIR / "test.txt")
    for encoder in ("hand", "torch"):
        ensemble = PosTagger.load([models / f"toy-{encoder}-seed1", models / f"toy-{encoder}-seed1001"],
                                  "cpu")
        expected = evaluate.evaluate(test, ensemble.predict([[w for w, _ in s] for s in test]),
                                     ensemble.vocab.is_known)
        row = results[f"{encoder}-ensemble2"][0]
        assert row["accuracy"] == expected["accuracy"]
        assert row["unknown_accuracy"] == expected["unknown_accuracy"]
        single = PosTagger.load(models / f"toy-{encoder}-seed1", "cpu").scores(test)
        assert results[encoder][0]["accuracy"] == single["accuracy"]


def load_script():
    spec = importlib.util.spec_from_file_location("eval_treebank", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_counts_under_one_are_refused(tmp_path, one_line_error):
    result = subprocess.run([sys.executable, str(SCRIPT), "--jobs", "0"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=120)
    one_line_error(result, "--jobs must be at least 1, got 0")
    assert not (tmp_path / "models").exists()
    with pytest.raises(TaggerError, match="--ensemble must be at least 1, got 0"):
        load_script().parse_args(["--ensemble", "0"])


@pytest.mark.slow
def test_jobs_train_the_models_one_at_a_time_would(tmp_path, together):
    models, results = together
    alone = run(tmp_path / "alone", tmp_path / "report-alone")
    for folder in (tmp_path / "alone").iterdir():
        assert (folder / "model.safetensors").read_bytes() == \
            (models / folder.name / "model.safetensors").read_bytes()
    for name, rows in alone.items():
        assert [r["accuracy"] for r in rows] == [r["accuracy"] for r in results[name]]


def test_reuse_takes_a_longer_run_when_a_shorter_one_saves_the_same_model(tmp_path):
    """A run of 6 epochs whose best came at epoch b saved the very model a run of b epochs saves
    (constant learning rate): --reuse may take it for --epochs b, not for b - 1."""
    script = load_script()
    tiny = dict(corpus="toy", embedding_size=8, char_embedding_size=4, char_hidden_size=4,
                hidden_size=8, threads=1, progress=False, device="cpu", patience=0)
    long = train(Config(**tiny, epochs=6, out=str(tmp_path / "long")), log=lambda m: None)
    best = long["best_epoch"]
    short = train(Config(**tiny, epochs=best, out=str(tmp_path / "short")), log=lambda m: None)
    assert (tmp_path / "short" / "model.safetensors").read_bytes() == \
        (tmp_path / "long" / "model.safetensors").read_bytes()
    assert short["test"] == long["test"]
    saved = Config(**tiny, epochs=6)
    assert script.same_model_with_epochs(saved, long, best)
    assert not script.same_model_with_epochs(saved, long, best - 1)
    assert not script.same_model_with_epochs(saved, long, 7)  # it stopped at the cap, 6
    # stopped early by its patience: as good as any longer cap
    stopped = {**long, "history": long["history"][:4], "best_epoch": min(best, 2)}
    assert script.same_model_with_epochs(saved, stopped, 10)
    cosine = Config(**{**tiny, "lr_schedule": "cosine"}, epochs=6)
    assert not script.same_model_with_epochs(cosine, long, best)


def test_the_hand_made_rnn_is_a_third_encoder_scored_as_the_others(tmp_path):
    models, report = tmp_path / "models", tmp_path / "report"
    result = subprocess.run([sys.executable, str(SCRIPT), *TINY, "--epochs", "2", "--models",
                             str(models), "--report", str(report), "--encoders", "hand", "rnn"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    results = json.loads((report / "report.json").read_text())["results"]
    assert set(results) == {"NLTK perceptron", "hand", "rnn"}
    test = data.read_tagged(data.TOY_DIR / "test.txt")
    rnn = PosTagger.load(models / "toy-rnn-seed1", "cpu")
    assert rnn.config.encoder == "rnn"
    assert results["rnn"][0]["accuracy"] == rnn.scores(test)["accuracy"]
    markdown = (report / "report.md").read_text()
    assert "hand-made LSTM, hand-made RNN and NLTK's perceptron" in markdown
    assert "Agreement" not in markdown  # hand against nn.LSTM only
