"""Tests for tagger.distributed, through the real command line: `torchrun --nproc_per_node=2 -m
tagger.train` on the toy corpus, over loopback, with gloo on the CPU. The ranks end as one model,
only rank 0 logs and saves, and the model it saves tags; two ranks with batches of B train the
model one process trains with batches of 2B; Ctrl-C stops every rank at the same batch, and
--resume ends as an uninterrupted run; an error on one rank ends them all.

How the ranks' weights are seen from outside: tagger.distributed's test hook, the environment
variable TAGGER_RANK_DIGESTS, makes each rank write the SHA-256 of its final weights."""

import os
import re
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from tagger import checkpoint, storage
from tagger.config import Config
from tagger.data import TOY_DIR, read_tagged
from tagger.distributed import DIGESTS_VARIABLE
from tagger.errors import TaggerError
from tagger.tag import PosTagger
from tagger.train import train

# Enough epochs for the toy model to tag a training sentence right; each takes a fraction of a
# second, starting the processes most of the test's time.
FLAGS = ["--corpus", "toy", "--epochs", "12", "--threads", "1", "--no-progress", "--device", "cpu"]

# Rank 1 presses Ctrl-C during its 3rd training batch (word dropout runs once a batch): on itself
# alone (CTRL_C_TO=rank), as Ctrl-C on one machine of several reaches only that machine's ranks;
# or on torchrun (CTRL_C_TO=torchrun), as a user would, which passes SIGINT on to every rank, and
# then waits for its own. Either way the run must stop at its 4th batch, epoch 2's second.
CTRL_C_SCRIPT = """
import os, signal, time
from tagger import distributed, train

calls, word_dropout = [], train.word_dropout

def word_dropout_then_ctrl_c(*args):
    calls.append(1)
    if len(calls) == 3 and distributed.rank() == 1:
        if os.environ["CTRL_C_TO"] == "rank":
            signal.raise_signal(signal.SIGINT)
        else:
            waiting, deadline = signal.getsignal(signal.SIGINT), time.monotonic() + 60
            os.kill(os.getppid(), signal.SIGINT)  # the parent of a rank is torchrun
            while signal.getsignal(signal.SIGINT) is waiting and time.monotonic() < deadline:
                time.sleep(0.01)
    return word_dropout(*args)

train.word_dropout = word_dropout_then_ctrl_c
train.main()
"""


def torchrun(out, *flags, digests=None, script=None, **variables):
    """`torchrun --standalone --nproc_per_node=2 -m tagger.train FLAGS --out OUT` (or the script),
    with the venv's torchrun; each rank writes its weights' digest into the folder `digests`."""
    env = {**os.environ, **variables}  # NLTK_DATA as conftest set it
    if sys.platform == "linux":
        env["GLOO_SOCKET_IFNAME"] = "lo"  # loopback only
    if digests:
        digests.mkdir()
        env[DIGESTS_VARIABLE] = str(digests)
    program = [str(script)] if script else ["-m", "tagger.train"]
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node=2", *program, *FLAGS, *flags, "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=300)


def digests_of(folder):
    return [(folder / f"rank{rank}.sha256").read_text() for rank in (0, 1)]


def report(folder):
    """What a saved model's metrics.json says, timings apart."""
    metrics = storage.load(folder)[3]
    return ([(h["epoch"], h["loss"], h["dev_accuracy"]) for h in metrics["history"]],
            metrics["best_epoch"], metrics["dev_accuracy"], metrics["test"])


def logged_epochs(stderr):
    return [int(m[1]) for m in re.finditer(r"^epoch +(\d+)  loss", stderr, re.MULTILINE)]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One run on two processes, with the default settings (dropout and word dropout on)."""
    root = tmp_path_factory.mktemp("ddp")
    result = torchrun(root / "m", digests=root / "digests")
    assert result.returncode == 0, result.stderr
    return root, result


@pytest.mark.slow
def test_two_processes_end_with_identical_weights(run):
    root, _ = run
    rank0, rank1 = digests_of(root / "digests")
    assert re.fullmatch(r"[0-9a-f]{64}\n", rank0)
    assert rank0 == rank1  # each rank saw other sentences; DDP made their steps one


def test_the_saved_model_tags_a_training_sentence_right(run):
    root, _ = run
    tagger = PosTagger.load(root / "m")
    gold = read_tagged(TOY_DIR / "train.txt")[2]
    assert [w for w, _ in gold] == ["The", "dog", "ate", "the", "apple", "."]
    assert tagger.tag([w for w, _ in gold]) == gold


def test_only_rank_0_logs_and_reports(run):
    root, result = run
    history = storage.load(root / "m")[3]["history"]
    assert logged_epochs(result.stderr) == [h["epoch"] for h in history] == list(range(1, 13))
    assert result.stderr.count("corpus toy: 82 train") == 1
    assert result.stdout.count("model saved to") == 1 and result.stdout.count("test accuracy") == 1
    # Only rank 0 saves: the model folder and nothing else (the finished run's checkpoint is gone).
    assert sorted(p.name for p in root.iterdir()) == ["digests", "m"]


def interrupted_lines(result):
    return [line for line in result.stderr.splitlines() if line.startswith("interrupted")]


@pytest.mark.slow
def test_ctrl_c_on_one_rank_stops_every_rank_at_the_same_batch_and_resume_ends_as_uninterrupted(
        run, tmp_path):
    root, _ = run
    out, script = tmp_path / "m", tmp_path / "ctrl_c.py"
    script.write_text(CTRL_C_SCRIPT)
    stopped = torchrun(out, script=script, CTRL_C_TO="rank")
    # Had rank 0 not stopped with rank 1, it would have waited for rank 1's gradients, and failed
    # with a traceback when rank 1 was gone. torchrun reports the ranks' exit code 130.
    assert "tagger/train.py" not in stopped.stderr and "exitcode  : 130" in stopped.stderr
    epoch_1 = storage.load(out)[3]["dev_accuracy"]
    assert interrupted_lines(stopped) == [  # from rank 0 alone
        f"interrupted: best model so far (epoch 1, dev {100 * epoch_1:.2f}%) is in {out}; "
        "continue with --resume"]
    assert logged_epochs(stopped.stderr) == [1]
    saved = checkpoint.read(checkpoint.path_for(out))
    assert saved.progress.epoch == 1  # epoch 2 is redone
    # Rank 1's own random states (dropout, word dropout) are in the checkpoint beside rank 0's.
    assert {"rng.torch.rank1", "rng.word_dropout.rank1"} <= saved.tensors.keys()

    # A run on another number of processes makes other batches: refused.
    with pytest.raises(TaggerError, match="made by a run on 2 process"):
        train(Config(corpus="toy", epochs=12, threads=1, progress=False, device="cpu",
                     out=str(out), resume=True), log=lambda message: None)

    resumed = torchrun(out, "--resume", digests=tmp_path / "digests")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming after epoch 1 (best dev {100 * epoch_1:.2f}%, epoch 1)" in resumed.stderr
    assert logged_epochs(resumed.stderr) == list(range(2, 13))
    # Bit for bit: the saved model, every rank's final weights (their own dropout streams were
    # restored rank by rank), and the report.
    assert (out / "model.safetensors").read_bytes() == (root / "m" / "model.safetensors").read_bytes()
    assert digests_of(tmp_path / "digests") == digests_of(root / "digests")
    assert report(out) == report(root / "m")
    assert not checkpoint.path_for(out).exists()


@pytest.mark.slow
def test_ctrl_c_on_torchrun_stops_every_rank_cleanly(tmp_path):
    out, script = tmp_path / "m", tmp_path / "ctrl_c.py"
    script.write_text(CTRL_C_SCRIPT)
    stopped = torchrun(out, script=script, CTRL_C_TO="torchrun")
    # torchrun ends with its own report of the signal; the ranks, without a traceback or an abort.
    last = stopped.stderr.strip().splitlines()[-1]
    assert stopped.returncode != 0 and last.endswith("got signal: 2"), last
    assert "tagger/train.py" not in stopped.stderr and "terminate called" not in stopped.stderr
    assert len(interrupted_lines(stopped)) == 1
    assert checkpoint.read(checkpoint.path_for(out)).progress.epoch == 1
    assert storage.load(out)[3]["best_epoch"] == 1


@pytest.mark.slow
def test_two_processes_train_as_one_with_twice_the_batch(tmp_path):
    """Without dropout, N ranks with batches of B take the steps of one process with batches of
    N x B: the same sentences a step, and a gradient averaged over all their tokens. Only float
    rounding (other batch shapes, another order of sums) separates them. Averaging the ranks'
    mean losses instead, unweighted by their tokens, ends about 6e-3 away here."""
    no_dropout = ["--dropout", "0", "--word-dropout", "0"]
    result = torchrun(tmp_path / "two", *no_dropout, digests=tmp_path / "digests")
    assert result.returncode == 0, result.stderr
    rank0, rank1 = digests_of(tmp_path / "digests")
    assert rank0 == rank1
    one = train(Config(corpus="toy", epochs=12, threads=1, progress=False, device="cpu",
                       dropout=0.0, word_dropout=0.0, batch_size=64, out=str(tmp_path / "one")),
                log=lambda message: None)
    two = storage.load(tmp_path / "two")[3]
    assert [h["loss"] for h in two["history"]] == pytest.approx(
        [h["loss"] for h in one["history"]], rel=1e-5)
    a, b = load_file(tmp_path / "one" / "model.safetensors"), load_file(
        tmp_path / "two" / "model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-4, atol=1e-4, msg=name)


def test_an_error_on_rank_0_ends_every_rank(tmp_path):
    """Rank 0 alone reads the checkpoint to resume from; when there is none, it stops with the
    user's one line, and the other rank, which would wait for it, is ended too (by torchrun)."""
    result = torchrun(tmp_path / "m", "--resume")  # a hang would time out
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: no checkpoint to resume from at "
                      f"'{checkpoint.path_for(tmp_path / 'm')}' (a run leaves one after each "
                      "epoch until it ends); train without --resume to start afresh"]
    assert "tagger/train.py" not in result.stderr  # no traceback from a rank
    assert "exitcode  : 2" in result.stderr  # torchrun's report: rank 0's code for a user error
