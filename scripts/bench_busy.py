#!/usr/bin/env python
"""Training and tagging on an idle machine and on a busy one, with the default flags.

    python scripts/bench_busy.py [--repeat 2] [--tokens 100000] [--env OMP_WAIT_POLICY=ACTIVE]

Laptops, shared servers and CI runners are busy machines: other processes hold the cores. This
script runs the same two commands, as a user would type them, first on the machine as it is and
then with one busy process per core (Python spinning, started and stopped here):

    python -m tagger.train --corpus treebank --limit 1000 --epochs 1   (toy, 5 epochs, without NLTK)
    python -m tagger.tag --tokenized --format conll --file F --timing  (F: --tokens tokens)

and prints for each the training loop's seconds (from the epoch lines), the tagging tokens/s
(from --timing), each whole command's wall-clock seconds, and busy/idle. Run it on an otherwise
quiet machine: "idle" is only as idle as the machine is. --env sets variables for the commands
(to compare thread-pool settings); extra flags after `--` go to both commands.
"""

import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tagger import data
from tagger.config import Config
from tagger.errors import ArgumentParser, cli
from tagger.tag import _cores as cores

EPOCH_LINE = re.compile(r"^epoch +\d+ .* ([\d.]+) s ", re.M)
TIMING_LINE = re.compile(r"tagged ([\d,]+) tokens in ([\d.]+) s")


def cpu_name():
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() \
            else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def run(command, env):
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return done.stderr, wall


def measure(work, corpus_flags, extra, env, tokens):
    """(training loop s, whole train command s, tagging tokens/s, whole tag command s)."""
    model = str(work / "model")
    log, train_wall = run([sys.executable, "-m", "tagger.train", *corpus_flags, "--out", model,
                           "--no-progress", *extra], env)
    loop = sum(float(s) for s in EPOCH_LINE.findall(log))
    log, tag_wall = run([sys.executable, "-m", "tagger.tag", "--model", model, "--tokenized",
                         "--format", "conll", "--file", str(work / "text.txt"), "--timing",
                         "--device", "cpu", *extra], env)
    tagged, seconds = TIMING_LINE.search(log).groups()
    return loop, train_wall, int(tagged.replace(",", "")) / float(seconds), tag_wall


def write_text(path, tokens):
    """A file of at least `tokens` tokens of real sentences, one a line."""
    # The corpus the training command reads, traces left out as there.
    corpus = "treebank" if data.nltk_has("corpora/treebank") else "toy"
    sentences = [[w for w, _ in s] for s in data.load_corpus(Config(corpus=corpus)).train]
    written = 0
    with open(path, "w") as f:
        while written < tokens:
            for s in sentences:
                f.write(" ".join(s) + "\n")
                written += len(s)
                if written >= tokens:
                    break


@cli
def main(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=100_000, help="tokens to tag")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each, the best kept")
    parser.add_argument("--env", nargs="*", default=[], metavar="NAME=VALUE")
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    env = {**os.environ, **dict(item.split("=", 1) for item in args.env)}
    if data.nltk_has("corpora/treebank"):
        corpus = ["--corpus", "treebank", "--limit", "1000", "--epochs", "1"]
    else:
        corpus = ["--corpus", "toy", "--epochs", "5"]
    work = Path(tempfile.mkdtemp(prefix="bench-busy-"))
    write_text(work / "text.txt", args.tokens)
    n = cores()
    print(f"{cpu_name()}, {n} cores; train: {' '.join(corpus + extra)}; tag: {args.tokens:,} "
          f"tokens; env: {' '.join(args.env) or 'as is'}; best of {args.repeat}")
    results = {}
    for state in ("idle", "busy"):
        spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                    for _ in range(n if state == "busy" else 0)]
        try:
            runs = [measure(work, corpus, extra, env, args.tokens) for _ in range(args.repeat)]
        finally:
            for spinner in spinners:
                spinner.kill()
                spinner.wait()
        results[state] = (min(r[0] for r in runs), min(r[1] for r in runs),
                          max(r[2] for r in runs), min(r[3] for r in runs))
        loop, train_wall, speed, tag_wall = results[state]
        print(f"{state}: training loop {loop:.2f} s (command {train_wall:.1f} s); tagging "
              f"{speed:,.0f} tokens/s (command {tag_wall:.1f} s)")
    idle, busy = results["idle"], results["busy"]
    print(f"busy/idle: training loop {busy[0] / idle[0]:.2f}x, train command "
          f"{busy[1] / idle[1]:.2f}x, tagging {idle[2] / busy[2]:.2f}x, tag command "
          f"{busy[3] / idle[3]:.2f}x")


if __name__ == "__main__":
    main()
