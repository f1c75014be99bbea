"""Tests for tagger.train: a trained model is saved and reloads, training is reproducible, the
two encoders train the same model, word dropout, flag errors, the README's example, and runs that
are interrupted (Ctrl-C, SIGKILL) lose nothing and resume to the weights of an uninterrupted run."""

import json
import random
import re
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file
from torch.optim.optimizer import register_optimizer_step_post_hook

from conftest import TINY_RUN, assert_same_weights, needs_nltk
from tagger import checkpoint, data, storage
from tagger import train as train_module
from tagger.config import Config
from tagger.errors import Interrupted, TaggerError
from tagger.tag import PosTagger
from tagger.train import learning_rate, recase, tag_loss, train, word_dropout
from tagger.data import read_tagged
from tagger.vocab import IGNORE_INDEX, TAG_SET, Vocab

# One thread: on a small machine shared with other work, torch's thread pool waits on busy cores.
# The CPU: "same seed, same model" is promised there (CUDA kernels may add in any order).
TINY = dict(TINY_RUN, epochs=2)
TIMING_KEYS = {"seconds", "tokens_per_second", "train_seconds"}


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
    assert sorted(p.name for p in (root / "a").iterdir()) == sorted(storage.MODEL_FILES)
    assert not checkpoint.path_for(root / "a").exists()  # a finished run needs none
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
    assert tagger.scores(splits.test) == metrics["test"]
    assert metrics["test"]["tokens"] == sum(len(s) for s in splits.test) == 100


def test_same_seed_gives_identical_weights_and_metrics(trained):
    root, first, second, _ = trained
    assert_same_weights(root / "a", root / "b")
    assert without_timing(first) == without_timing(second)
    assert "seconds" in first["history"][0] and "seconds" not in without_timing(first)["history"][0]


@needs_nltk("corpora/treebank")
def test_same_seed_gives_identical_weights_and_metrics_on_a_treebank_slice(tmp_path):
    slice_ = dict(corpus="treebank", limit=150, batch_size=16)
    first, _ = run_train(tmp_path / "a", **slice_)
    second, _ = run_train(tmp_path / "b", **slice_)
    assert first["corpus"] == "treebank" and first["test"]["tokens"] > 5000
    assert_same_weights(tmp_path / "a", tmp_path / "b")
    assert without_timing(first) == without_timing(second)


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


def test_recase_lowers_or_capitalises_whole_sentences_in_the_share_asked_for():
    sentence = ["The", "-LRB-", "Dog", "'s", "up", "-RRB-"]
    n = 4000
    recased = recase([sentence] * n, 0.2, torch.Generator().manual_seed(0))
    kinds = [tuple(words) for words in recased]
    lower = ("the", "-LRB-", "dog", "'s", "up", "-RRB-")  # bracket tokens keep their names
    upper = ("THE", "-LRB-", "DOG", "'S", "UP", "-RRB-")
    assert set(kinds) == {tuple(sentence), lower, upper}
    assert 0.08 < kinds.count(lower) / n < 0.12 and 0.08 < kinds.count(upper) / n < 0.12
    assert recase([sentence] * n, 0.2, torch.Generator().manual_seed(0)) == recased
    assert recase([sentence] * 10, 0.0, torch.Generator().manual_seed(0)) == [sentence] * 10


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


@pytest.mark.parametrize("flags,words", [
    (["--epochs", "-1"], ["--epochs", "not be negative"]),
    (["--batch-size", "-1"], ["--batch-size", "-1"]),
    (["--encoder", "foo"], ["argument --encoder: invalid choice: 'foo'",
                            "see python -m tagger.train --help"]),
    pytest.param(["--device", "cuda"], ["--device cuda", "no CUDA"],
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")),
])
def test_invalid_flags_end_with_one_line_and_exit_code_2(tmp_path, run_cli, one_line_error, flags,
                                                         words):
    result = run_cli("tagger.train", "--corpus", "toy", "--no-progress", *flags, cwd=tmp_path)
    one_line_error(result, *words)
    assert list(tmp_path.iterdir()) == []  # nothing was trained or saved


def test_readme_example_trains_on_toy_and_tags_the_dog_sentence(tmp_path, run_cli):
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


# --- interrupted runs ----------------------------------------------------------------------------


def interrupt_at_batch(monkeypatch, n):
    """Deliver a real SIGINT while the n-th training batch runs (word dropout runs once a batch)."""
    calls = []

    def word_dropout_then_ctrl_c(*args):
        calls.append(1)
        if len(calls) == n:
            signal.raise_signal(signal.SIGINT)
        return word_dropout(*args)

    monkeypatch.setattr(train_module, "word_dropout", word_dropout_then_ctrl_c)


def test_cosine_learning_rate_follows_torchs_cosine_annealing():
    config = Config(**{**TINY, "epochs": 7, "lr": 0.01, "lr_schedule": "cosine"})
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.lr)
    reference = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    for epoch in range(1, config.epochs + 1):  # the scheduler steps once an epoch, after it
        assert learning_rate(config, epoch) == pytest.approx(reference.get_last_lr()[0], rel=1e-12)
        optimizer.step()
        reference.step()
    assert learning_rate(Config(**{**TINY, "lr": 0.01}), 5) == 0.01  # constant


@pytest.mark.parametrize("settings", [dict(epochs=3, lr_schedule="cosine"),
                                      dict(epochs=3, ema_decay=0.9)], ids=["cosine", "ema"])
def test_resume_with_a_schedule_or_averaging_ends_as_an_uninterrupted_run(tmp_path, monkeypatch,
                                                                           settings):
    """The schedule is a function of the epoch number, and the checkpoint carries the averaged
    weights, so a resumed run takes the same steps and averages them the same way."""
    run_train(tmp_path / "whole", **settings)
    interrupt_at_batch(monkeypatch, 5)  # epoch 2, batch 2
    with pytest.raises(Interrupted):
        run_train(tmp_path / "m", **settings)
    monkeypatch.undo()
    run_train(tmp_path / "m", resume=True, **settings)
    assert_same_weights(tmp_path / "m", tmp_path / "whole")


def test_ema_decay_saves_the_moving_average_of_every_steps_weights(tmp_path):
    """Recomputed by hand from the weights after each optimizer step: epoch 1 (3 batches of the toy
    corpus) is always the best so far, so the model it saves is the average after 3 steps."""
    steps = []

    def record(optimizer, args, kwargs):
        steps.append([p.detach().clone() for group in optimizer.param_groups
                      for p in group["params"]])

    handle = register_optimizer_step_post_hook(record)
    try:
        run_train(tmp_path / "m", epochs=1, ema_decay=0.75)
    finally:
        handle.remove()
    assert len(steps) == 3
    average = steps[0]  # the first step's weights start the average
    for weights in steps[1:]:
        average = [0.75 * a + 0.25 * w for a, w in zip(average, weights)]
    saved = list(storage.load(tmp_path / "m")[0].parameters())
    assert len(saved) == len(average)
    for got, expected, last in zip(saved, average, steps[-1]):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert not all(torch.equal(got, last) for got, last in zip(saved, steps[-1]))


def test_ctrl_c_mid_epoch_then_resume_ends_as_an_uninterrupted_run(trained, tmp_path, monkeypatch):
    root, uninterrupted, _, _ = trained
    out = tmp_path / "m"
    interrupt_at_batch(monkeypatch, 5)  # the toy corpus makes 3 batches: epoch 2, batch 2
    with pytest.raises(Interrupted) as info:
        run_train(out)
    epoch_1 = uninterrupted["history"][0]["dev_accuracy"]
    assert str(info.value) == (f"interrupted: best model so far (epoch 1, dev {100 * epoch_1:.2f}%) "
                               f"is in {out}; continue with --resume")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    assert storage.load(out)[3]["best_epoch"] == 1
    assert checkpoint.read(checkpoint.path_for(out)).progress.epoch == 1
    monkeypatch.undo()

    metrics, messages = run_train(out, resume=True)
    assert messages[1] == (f"resuming after epoch 1 (best dev {100 * epoch_1:.2f}%, epoch 1) from "
                           f"{checkpoint.path_for(out)}")
    assert_same_weights(out, root / "a")
    assert without_timing(metrics) == without_timing(uninterrupted)
    assert not checkpoint.path_for(out).exists()
    with pytest.raises(TaggerError, match="no checkpoint to resume from"):
        run_train(out, resume=True)


def test_a_fresh_run_replaces_an_unfinished_one_only_when_it_saves(tmp_path, monkeypatch):
    out = tmp_path / "m"
    interrupt_at_batch(monkeypatch, 2)
    with pytest.raises(Interrupted, match="^interrupted before the first epoch ended; nothing was "
                                          "saved$"):
        run_train(out)
    assert not out.exists() and not checkpoint.path_for(out).exists()
    interrupt_at_batch(monkeypatch, 5)
    with pytest.raises(Interrupted):
        run_train(out)
    unfinished = checkpoint.path_for(out).read_bytes()
    interrupt_at_batch(monkeypatch, 2)  # the next run is stopped before it saves anything
    with pytest.raises(Interrupted):
        run_train(out, seed=2)
    assert checkpoint.path_for(out).read_bytes() == unfinished
    monkeypatch.undo()
    _, messages = run_train(out, seed=2, epochs=1)
    assert messages[1].startswith(f"note: {checkpoint.path_for(out)} holds an unfinished run")
    assert not checkpoint.path_for(out).exists()


def test_resume_refuses_other_settings_before_training(trained, tmp_path, monkeypatch):
    out = tmp_path / "m"
    interrupt_at_batch(monkeypatch, 5)
    with pytest.raises(Interrupted):
        run_train(out)
    with pytest.raises(TaggerError, match="was made with --hidden-size 16, not 8"):
        run_train(out, resume=True, hidden_size=8)
    assert checkpoint.read(checkpoint.path_for(out)).progress.epoch == 1  # still there to resume


def cli_flags(**settings):
    flags = []
    for name, value in settings.items():
        flag = "--" + name.replace("_", "-")
        flags += [flag if value else "--no-" + flag[2:]] if isinstance(value, bool) else [flag, str(value)]
    return flags


def training_command(out, *flags, **settings):
    return [sys.executable, "-m", "tagger.train", *cli_flags(**{**TINY, **settings}), "--out",
            str(out), *flags]


def start_training(out, *flags, **settings):
    return subprocess.Popen(training_command(out, *flags, **settings), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def wait_for_line(process, prefix):
    """Read the run's log up to the first line that starts with `prefix`."""
    for line in process.stderr:
        if line.startswith(prefix):
            return
    pytest.fail(f"the run ended (exit code {process.wait()}) before a line '{prefix}...'")


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["ctrl-c", "sigterm"])
@pytest.mark.slow
def test_ctrl_c_or_sigterm_on_the_command_line_stops_with_one_line_and_resumes(tmp_path, signum,
                                                                              code):
    out = tmp_path / "m"
    process = start_training(out, epochs=1000, patience=0)
    wait_for_line(process, "epoch   2")
    process.send_signal(signum)
    stderr = process.communicate(timeout=120)[1]
    assert process.returncode == code and "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    match = re.fullmatch(r"interrupted: best model so far \(epoch (\d+), dev ([\d.]+)%\) is in "
                         r"(.+); continue with --resume", last)
    assert match and match[3] == str(out), last
    metrics = storage.load(out)[3]
    assert int(match[1]) == metrics["best_epoch"]
    assert match[2] == f"{100 * metrics['dev_accuracy']:.2f}"
    progress = checkpoint.read(checkpoint.path_for(out)).progress
    assert progress.epoch >= 2 and progress.best_epoch == metrics["best_epoch"]
    resumed = subprocess.run(training_command(out, "--resume", epochs=progress.epoch + 1,
                                              patience=0), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming after epoch {progress.epoch} " in resumed.stderr
    assert not checkpoint.path_for(out).exists()


def state_of(model):
    return {name: value.clone() for name, value in model.state_dict().items()}


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_whole_files_and_resume_ends_as_uninterrupted(
        tmp_path, monkeypatch):
    settings = dict(epochs=20, patience=0)
    # Every model and checkpoint an uninterrupted run saves, by epoch: what a kill may leave.
    models, checkpoints = {}, {}
    save_model, save_checkpoint = storage.save, checkpoint.save

    def record_model(folder, model, vocab, config, metrics):
        models[metrics["best_epoch"]] = state_of(model)
        save_model(folder, model, vocab, config, metrics)

    def record_checkpoint(path, model, optimizer, generators, progress, trained_with, **more):
        checkpoints[progress.epoch] = state_of(model)
        save_checkpoint(path, model, optimizer, generators, progress, trained_with, **more)

    monkeypatch.setattr(storage, "save", record_model)
    monkeypatch.setattr(checkpoint, "save", record_checkpoint)
    reference, _ = run_train(tmp_path / "reference", **settings)
    monkeypatch.undo()

    out = tmp_path / "runs" / "m"
    moments = random.Random(4)
    for _ in range(3):
        resume = ["--resume"] if checkpoint.path_for(out).exists() else []
        process = start_training(out, *resume, **settings)
        wait_for_line(process, "epoch")  # past starting up: into the epochs and their saves
        time.sleep(moments.uniform(0, 0.5))
        process.kill()
        process.communicate()
        try:
            model, _, _, metrics = storage.load(out)
        except TaggerError as e:  # killed before the first save, when there is nothing at all
            assert str(e).startswith("no model in"), e
        else:
            for name, value in models[metrics["best_epoch"]].items():
                assert torch.equal(model.state_dict()[name], value), name
        if checkpoint.path_for(out).exists():
            saved = checkpoint.read(checkpoint.path_for(out))
            for name, value in checkpoints[saved.progress.epoch].items():
                assert torch.equal(saved.tensors[f"model.{name}"], value), name

    resume = ["--resume"] if checkpoint.path_for(out).exists() else []
    process = start_training(out, *resume, **settings)
    stderr = process.communicate(timeout=300)[1]
    assert process.returncode == 0, stderr
    assert_same_weights(out, tmp_path / "reference")
    assert without_timing(storage.load(out)[3]) == without_timing(json.loads(json.dumps(reference)))
    assert [p.name for p in out.parent.iterdir()] == ["m"]  # no temporaries, no checkpoint


def test_tag_loss_is_nll_for_one_tag_and_minus_log_of_the_set_probability_for_sets():
    vocab = Vocab.build([[("a", "DT"), ("b", "VB|VBP"), ("c", "NN")], [("d", "VBP|NN")]])
    assert vocab.tags == ["DT", "NN", "VB", "VBP"] and vocab.tag_sets == ["VBP|NN", "VB|VBP"]
    batch = vocab.batch([["a", "b", "c"], ["d"]], [["DT", "VB|VBP", "NN"], ["VBP|NN"]])
    log_probs = torch.randn(2, 3, 4, dtype=torch.float64).log_softmax(-1)
    loss = tag_loss(log_probs.flatten(0, 1), batch.tags.flatten(), vocab.tag_set_mask())
    p = log_probs.exp()
    expected = -(log_probs[0, 0, 0] + (p[0, 1, 2] + p[0, 1, 3]).log() + log_probs[0, 2, 1]
                 + (p[1, 0, 3] + p[1, 0, 1]).log()) / 4
    assert torch.allclose(loss, expected)
    assert torch.allclose(tag_loss(log_probs.flatten(0, 1), batch.tags.flatten(),
                                   vocab.tag_set_mask(), reduction="sum"), 4 * expected)
    single = vocab.batch([["a", "c"]], [["DT", "NN"]]).tags.flatten()
    assert torch.equal(tag_loss(log_probs[0, :2], single, vocab.tag_set_mask()),
                       torch.nn.NLLLoss()(log_probs[0, :2], single))


def test_a_corpus_with_tag_sets_trains_a_tagger_of_single_tags(tmp_path):
    lines = ["The/DT dog/NN ate/VBD the/DT apple/NN", "They/PRP read/VB|VBP books/NNS",
             "We/PRP eat/VBP apples/NNS", "Dogs/NNS eat/VB|VBP|NN bread/NN"] * 5
    corpus = tmp_path / "sets.txt"
    corpus.write_text("\n".join(lines) + "\n")
    metrics, _ = run_train(tmp_path / "m", corpus=str(corpus), epochs=3)
    tagger = PosTagger.load(tmp_path / "m")
    assert TAG_SET not in "".join(tagger.vocab.tags) and "VBP" in tagger.vocab.tags
    assert 0 < metrics["dev_accuracy"] <= 1


def test_a_second_tag_set_trains_a_second_head_that_the_saved_model_leaves_out(tmp_path):
    # What --brown-tags both does with Brown's own tags, on a user's corpus whose tokens carry a
    # second tag after "~" (the first sentence has none: it adds nothing to the second head).
    lines = ["The/DT dog/NN ate/VBD the/DT apple/NN", "They/PRP~PPSS read/VB|VBP~VB books/NNS~NNS",
             "We/PRP~PPSS eat/VBP~VB apples/NNS~NNS", "A/~AT cat/~NN slept/~VBD"] * 5
    corpus = tmp_path / "aux.txt"
    corpus.write_text("\n".join(lines) + "\n")
    vocab = Vocab.build(read_tagged(corpus))
    assert vocab.tags == ["DT", "NN", "NNS", "PRP", "VB", "VBD", "VBP"]
    assert vocab.aux_tags == ["AT", "NN", "NNS", "PPSS", "VB", "VBD"]
    assert vocab.tag_sets == ["VB|VBP"]
    batch = vocab.batch([["The", "dog"], ["They", "read"], ["A", "cat"]],
                        [["DT", "NN"], ["PRP~PPSS", "VB|VBP~VB"], ["~AT", "~NN"]])
    assert batch.aux_tags.tolist() == [[IGNORE_INDEX, IGNORE_INDEX], [3, 4], [0, 1]]
    assert batch.tags.tolist() == [[0, 1], [3, len(vocab.tags)], [IGNORE_INDEX, IGNORE_INDEX]]
    assert Vocab.build(read_tagged(corpus)[:1]).batch([["The"]], [["DT"]]).aux_tags is None

    run_train(tmp_path / "m", corpus=str(corpus), epochs=2)
    weights = load_file(tmp_path / "m" / "model.safetensors")
    assert "head.weight" in weights and not any(k.startswith("aux_head") for k in weights)
    tagger = PosTagger.load(tmp_path / "m")
    assert tagger.model.aux_head is None and not tagger.vocab.aux_tags
    assert all(tag in vocab.tags for _, tag in tagger.tag(["They", "read", "books"]))


@needs_nltk("corpora/treebank", "corpora/conll2000", "corpora/brown")
@pytest.mark.slow
def test_english_trains_on_wsj_and_a_share_of_brown(tmp_path):
    metrics, messages = run_train(tmp_path / "m", corpus="english", limit=60, epochs=2,
                                  brown_share=0.5)
    assert "(+ 60, a share each epoch)" in messages[0]
    saved = Config.from_json((tmp_path / "m" / "config.json").read_text())
    assert saved.epochs == 2 and metrics["corpus"] == "english"
    for tags in ("own", "both"):
        metrics, _ = run_train(tmp_path / tags, corpus="english", limit=60, epochs=1,
                               brown_tags=tags)
        assert 0 < metrics["dev_accuracy"] <= 1


def test_batch_loss_adds_the_silver_tokens_cross_entropy_with_the_teacher_times_its_weight():
    from tagger.train import _batch_loss

    vocab = Vocab.build([[("a", "DT"), ("b", "NN"), ("c", "VB|VBP")]])
    words = [["a", "b", "c"], ["b", "a"]]
    tags = [["DT", "NN", "VB|VBP"], [{"NN": 0.75, "DT": 0.25}, {}]]
    batch = vocab.batch(words, tags)
    log_probs = torch.randn(2, 3, 4, dtype=torch.float64).log_softmax(-1)
    run = SimpleNamespace(ddp_model=lambda b: log_probs[:len(b.lengths)],
                          tag_set_mask=vocab.tag_set_mask(),
                          config=Config(silver_weight=0.5))
    p = log_probs.exp()
    gold = -(log_probs[0, 0, 0] + log_probs[0, 1, 1] + (p[0, 2, 2] + p[0, 2, 3]).log())
    silver = -(0.75 * log_probs[1, 0, 1] + 0.25 * log_probs[1, 0, 0])  # "{}" teaches nothing
    assert torch.allclose(_batch_loss(run, batch, 5), (gold + 0.5 * silver) / 5)
    gold_only = vocab.batch(words[:1], tags[:1])
    assert torch.equal(_batch_loss(run, gold_only, 3), tag_loss(
        log_probs[:1].flatten(0, 1), gold_only.tags.flatten(), vocab.tag_set_mask()))


def test_a_silver_file_trains_with_its_words_in_the_vocabulary(tmp_path):
    silver = tmp_path / "silver.jsonl"
    silver.write_text("\n".join(json.dumps({"tokens": ["Zebras", "graze", "."],
                                            "tags": [{"NNS": 0.9, "NN": 0.1}, {"VBP": 1.0},
                                                     {".": 1.0}]}) for _ in range(40)) + "\n")
    metrics, _ = run_train(tmp_path / "m", silver=str(silver), epochs=2)
    tagger = PosTagger.load(tmp_path / "m")
    assert tagger.vocab.is_known("Zebras") and tagger.config.silver == str(silver)
    assert 0 < metrics["dev_accuracy"] <= 1


RAW = ["Zebras graze on the plain. They run fast.", "The zebra ate grass and slept."] * 20


@pytest.fixture
def raw_text(tmp_path):
    path = tmp_path / "raw.txt"
    path.write_text("\n".join(RAW) + "\n")
    return str(path)


def test_self_training_tags_the_raw_text_once_and_learns_its_words(tmp_path, raw_text):
    settings = dict(epochs=2, self_train=1, self_train_text=(raw_text,), silver_share=1.0)
    _, messages = run_train(tmp_path / "m", **settings)
    tagger = PosTagger.load(tmp_path / "m")
    assert tagger.vocab.is_known("Zebras") and tagger.config.self_train == 1
    made = [m for m in messages if m.startswith("self-training: the model of epoch 1 tagged 60 ")]
    assert len(made) == 1 and "(+ 60 raw, silver after epoch 1)" in messages[0]
    assert not train_module.self_silver_path(tmp_path / "m").exists()  # gone with the checkpoint
    # Without self-training, the raw text's words are unknown: they came from it.
    run_train(tmp_path / "plain", epochs=2)
    assert not PosTagger.load(tmp_path / "plain").vocab.is_known("Zebras")


@pytest.mark.parametrize("batch", [5, 9], ids=["in-the-epoch-it-is-made", "an-epoch-later"])
def test_resume_of_a_self_training_run_ends_as_an_uninterrupted_run(tmp_path, monkeypatch,
                                                                    raw_text, batch):
    """Interrupted in epoch 2, the first to learn from the silver, it is made again from the
    checkpoint's weights, which are those it was made from; interrupted in epoch 3, it is read
    back from beside the checkpoint."""
    settings = dict(epochs=3, self_train=1, self_train_text=(raw_text,), silver_share=1.0)
    run_train(tmp_path / "whole", **settings)
    interrupt_at_batch(monkeypatch, batch)
    with pytest.raises(Interrupted):
        run_train(tmp_path / "m", **settings)
    assert train_module.self_silver_path(tmp_path / "m").exists()
    monkeypatch.undo()
    run_train(tmp_path / "m", resume=True, **settings)
    assert_same_weights(tmp_path / "m", tmp_path / "whole")


def test_silver_and_self_training_cannot_go_together(tmp_path, raw_text):
    with pytest.raises(TaggerError, match="--silver and --self-train cannot go together"):
        Config(silver=raw_text, self_train=1).validate()
