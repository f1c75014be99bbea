"""Tests for tagger.train: a trained model is saved and reloads, training is reproducible, the
two encoders train the same model, word dropout, flag errors, and the README's example."""

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from tagger import data, storage
from tagger.config import Config
from tagger.tag import PosTagger
from tagger.train import train, word_dropout
from tagger.vocab import Vocab

# One thread: on a small machine shared with other work, torch's thread pool waits on busy cores.
# The CPU: "same seed, same model" is promised there (CUDA kernels may add in any order).
TINY = dict(corpus="toy", epochs=2, embedding_size=16, char_embedding_size=8, char_hidden_size=8,
            hidden_size=16, progress=False, threads=1, device="cpu")
TIMING_KEYS = {"seconds", "tokens_per_second", "train_seconds"}


@pytest.fixture(scope="module", autouse=True)
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def run_train(out, **overrides):
    messages = []
    metrics = train(Config(**{**TINY, "out": str(out), **overrides}), log=messages.append)
    return metrics, messages


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny hand-encoder model, trained twice with the same seed."""
    root = tmp_path_factory.mktemp("train")
    first, messages = run_train(root / "a")
    second, _ = run_train(root / "b")
    return root, first, second, messages


def without_timing(value):
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def test_train_saves_a_loadable_model_with_its_metrics(trained):
    root, metrics, _, messages = trained
    assert sorted(p.name for p in (root / "a").iterdir()) == sorted(storage.FILES + ("metrics.json",))
    model, vocab, config, saved = storage.load(root / "a")
    assert config == Config(**{**TINY, "out": str(root / "a")})
    assert saved == json.loads(json.dumps(metrics))  # the file is the returned report
    assert metrics["corpus"] == "toy" and metrics["train_seconds"] > 0
    history = metrics["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert {"loss", "dev_accuracy", "seconds", "tokens_per_second"} <= history[0].keys()
    assert history[1]["loss"] < history[0]["loss"]  # it learns
    best = max(history, key=lambda h: h["dev_accuracy"])
    assert metrics["best_epoch"] == best["epoch"] and metrics["dev_accuracy"] == best["dev_accuracy"]
    assert messages[0].startswith("corpus toy: 82 train / 15 dev / 15 test sentences")
    # The saved model is the best one, and its scores are what it really gets.
    splits = data.load_corpus(config)
    assert vocab == Vocab.build(splits.train)  # built from the training split alone
    tagger = PosTagger(model, vocab, config)
    assert tagger.accuracy(splits.dev) == metrics["dev_accuracy"]
    assert tagger.evaluate(splits.test) == metrics["test"]
    assert metrics["test"]["tokens"] == sum(len(s) for s in splits.test) == 100


def test_same_seed_gives_identical_weights_and_metrics(trained):
    root, first, second, _ = trained
    a, b = load_file(root / "a" / "model.safetensors"), load_file(root / "b" / "model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert without_timing(first) == without_timing(second)
    assert "seconds" in first["history"][0] and "seconds" not in without_timing(first)["history"][0]


def test_another_seed_gives_another_model(trained, tmp_path):
    root = trained[0]
    run_train(tmp_path / "c", seed=2)
    a, c = load_file(root / "a" / "model.safetensors"), load_file(tmp_path / "c" / "model.safetensors")
    assert not torch.equal(a["head.weight"], c["head.weight"])


def test_torch_encoder_trains_the_same_model(trained, tmp_path):
    root, hand, _, _ = trained
    metrics, _ = run_train(tmp_path / "t", encoder="torch")
    model, _, config, _ = storage.load(tmp_path / "t")
    assert config.encoder == "torch" and isinstance(model.lstm, torch.nn.LSTM)
    # Same seed, same data order: only float rounding separates the two implementations.
    assert [h["loss"] for h in metrics["history"]] == pytest.approx(
        [h["loss"] for h in hand["history"]], rel=1e-5)
    a, t = load_file(root / "a" / "model.safetensors"), load_file(tmp_path / "t" / "model.safetensors")
    assert a.keys() == t.keys()
    for name in a:
        torch.testing.assert_close(t[name], a[name], rtol=1e-4, atol=1e-5, msg=name)


def test_word_dropout_replaces_only_real_words_by_unk_and_rare_ones_more_often():
    counts = torch.tensor([0.0, 0.0, 1.0, 1000.0])  # <pad>, <unk>, a rare word, a frequent word
    n = 20_000
    words = torch.tensor([[2, 3, 1, 0]]).repeat(n, 1)  # every row ends in <unk> and padding
    generator = torch.Generator().manual_seed(0)
    dropped = word_dropout(words, counts, 0.25, generator)
    assert dropped.shape == words.shape and dropped.dtype == words.dtype
    changed = dropped != words
    assert (dropped[changed] == 1).all()  # only ever <unk>
    assert not changed[:, 2:].any()  # <unk> stays, padding is never touched
    rare, frequent = changed[:, 0].float().mean().item(), changed[:, 1].float().mean().item()
    # alpha / (alpha + count): 0.25 / 1.25 = 0.2 for the rare word, 0.00025 for the frequent one.
    assert 0.18 < rare < 0.22
    assert frequent < 0.002
    # The draw comes from the generator alone.
    again = word_dropout(words, counts, 0.25, torch.Generator().manual_seed(0))
    assert torch.equal(again, dropped)


def run_cli(module, *args, cwd):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def assert_one_line_error(result, *words):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("flags,words", [
    (["--epochs", "0"], ["--epochs", "at least 1"]),
    (["--batch-size", "-1"], ["--batch-size", "-1"]),
    pytest.param(["--device", "cuda"], ["--device cuda", "no CUDA"],
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")),
])
def test_invalid_flags_end_with_one_line_and_exit_code_2(tmp_path, flags, words):
    result = run_cli("tagger.train", "--corpus", "toy", "--no-progress", *flags, cwd=tmp_path)
    assert_one_line_error(result, *words)
    assert list(tmp_path.iterdir()) == []  # nothing was trained or saved


def test_an_invalid_choice_is_argparse_s_error_with_exit_code_2(tmp_path):
    result = run_cli("tagger.train", "--encoder", "foo", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "argument --encoder: invalid choice: 'foo'" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_readme_example_trains_on_toy_and_tags_the_dog_sentence(tmp_path):
    """The README's promise: a toy model from the command line tags its example sentence right."""
    train_run = run_cli("tagger.train", "--corpus", "toy", "--epochs", "30", "--out", "models/toy",
                        "--no-progress", "--threads", "1", cwd=tmp_path)
    assert train_run.returncode == 0, train_run.stderr
    assert "model saved to models/toy" in train_run.stdout
    assert "test accuracy" in train_run.stdout
    assert (tmp_path / "models" / "toy" / "model.safetensors").is_file()
    tag_run = run_cli("tagger.tag", "--model", "models/toy", "The dog ate the apple", cwd=tmp_path)
    assert tag_run.returncode == 0, tag_run.stderr
    assert tag_run.stdout == "The/DT dog/NN ate/VBD the/DT apple/NN\n"
