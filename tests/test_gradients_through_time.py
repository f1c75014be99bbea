"""Tests for scripts/gradients_through_time.py: the gradient norms it measures through the hand-made
modules, one step a call, are those torch's own nn.RNNCell and nn.LSTMCell give through autograd
with the same weights; and the script, on tiny toy models, reports every (t, k) pair once."""

import importlib.util
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import TINY_RUN
from tagger import data, storage
from tagger.config import Config
from tagger.train import train

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gradients_through_time.py"


def load_script():
    spec = importlib.util.spec_from_file_location("gradients_through_time", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("gradients")
    for encoder in ("hand", "rnn"):
        train(Config(**TINY_RUN, epochs=1, encoder=encoder, out=str(root / encoder)),
              log=lambda m: None)
    return root


def reference_norms(model, vocab, words, tags, script):
    """The same norms through nn.RNNCell / nn.LSTMCell and autograd: {(state, distance): [...]}"""
    lstm = model.lstm.mode == "LSTM"
    H, T = model.lstm.hidden_size, len(words)
    with torch.no_grad():
        x = script.lstm_inputs(model, vocab, words)[0]  # (T, I)
        whole, _ = model.lstm(x.unsqueeze(0))
    gold = [vocab.tags.index(t) for t in tags]
    norms = defaultdict(list)
    for direction in (0, 1):
        single = script.one_direction(model.lstm, direction)
        cell = (nn.LSTMCell if lstm else nn.RNNCell)(x.shape[1], H)
        cell.load_state_dict({k.removesuffix("_l0"): v for k, v in single.state_dict().items()})
        steps = x if direction == 0 else x.flip(0)
        h = c = torch.zeros(1, H, requires_grad=True)
        states, losses = [], []
        for s in range(T):
            h, c = cell(steps[s : s + 1], (h, c)) if lstm else (cell(steps[s : s + 1], h), None)
            t = s if direction == 0 else T - 1 - s
            halves = [h[0], whole[0, t, H:]] if direction == 0 else [whole[0, t, :H], h[0]]
            losses.append(-F.log_softmax(model.head(torch.cat(halves)), dim=-1)[gold[t]])
            states.append((h, c) if lstm else (h,))
        for s in range(1, T):
            for k in range(s):
                for name, state in zip("hc", states[k]):
                    grad, = torch.autograd.grad(losses[s], state, retain_graph=True)
                    norms[(name, s - k)].append(grad.norm().item())
    return norms


@pytest.mark.parametrize("encoder", ["hand", "rnn"])
def test_norms_are_those_of_torchs_cells_through_autograd(models, encoder):
    script = load_script()
    model, vocab, _, _ = storage.load(models / encoder, "cpu")
    model.requires_grad_(False)
    words, tags = ["The", "dog", "ate", "the", "apple", "."], ["DT", "NN", "VBD", "DT", "NN", "."]
    got = defaultdict(list)
    script.sentence_gradients(model, vocab, words, tags, got)
    expected = reference_norms(model, vocab, words, tags, script)
    assert set(got) == set(expected) and {name for name, _ in got} == (
        {"h", "c"} if encoder == "hand" else {"h"})
    for key in expected:
        assert got[key] == pytest.approx(expected[key], rel=1e-4, abs=1e-9), key
    assert any(v > 0 for values in got.values() for v in values)


def test_the_report_counts_every_pair_once(models, tmp_path):
    report = tmp_path / "report"
    result = subprocess.run([sys.executable, str(SCRIPT), "--lstm", str(models / "hand"), "--rnn",
                             str(models / "rnn"), "--sentences", "3", "--max-distance", "4",
                             "--report", str(report)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    found = json.loads((report / "report.json").read_text())
    lengths = [len(s) for s in data.load_corpus(Config(corpus="toy")).test[:3]]
    assert set(found["results"]) == {"RNN, at init", "RNN, trained", "LSTM, at init",
                                     "LSTM, trained"}
    assert set(found["results"]["LSTM, trained"]) == {"h", "c"}
    for distance in range(1, 5):
        pairs = sum(2 * max(0, n - distance) for n in lengths)  # both directions
        assert found["results"]["RNN, trained"]["h"][str(distance)]["pairs"] == pairs
    assert (report / "gradients-through-time.png").stat().st_size > 0
    assert "| 1 |" in (report / "report.md").read_text()


def test_a_model_of_the_wrong_encoder_is_a_one_line_error(models, one_line_error):
    result = subprocess.run([sys.executable, str(SCRIPT), "--lstm", str(models / "rnn"), "--rnn",
                             str(models / "rnn")], capture_output=True, text=True, timeout=300)
    one_line_error(result, "--encoder rnn, not hand")
