#!/usr/bin/env python
"""How long the commands take to start: `--help`, tagging one sentence, a one-epoch toy run.

    python scripts/bench_startup.py [--repeat 5] [--model DIR] [--code DIR]

Each command runs --repeat times as a user types it, one after the other; the script prints the
median and the fastest wall-clock seconds, next to what importing torch and NLTK alone costs (the
floor for any command that needs them). The model tagged with is --model, or a toy model trained
here first. --code runs the commands from another checkout of tagger (say, an older commit in a
`git worktree`), for a before/after in one run. Run it on an otherwise quiet machine.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_busy import cpu_name

from tagger.errors import ArgumentParser, cli

SENTENCE = "The dog ate the apple"


def seconds(command, env, repeat, cwd):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
        times.append(time.perf_counter() - start)
        if done.returncode:
            sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return statistics.median(times), min(times)


@cli
def main(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command (default: 5)")
    parser.add_argument("--model", help="model folder to tag with (default: a toy model made here)")
    parser.add_argument("--code", default=str(Path(__file__).resolve().parent.parent),
                        help="checkout whose tagger package is run (default: this one)")
    args = parser.parse_args(argv)
    # `python -m` looks in the current folder first, so the commands run in the checkout.
    code = Path(args.code).resolve()
    env = {**os.environ, "PYTHONPATH": str(code)}
    python = [sys.executable]
    with tempfile.TemporaryDirectory() as work:
        toy = [*python, "-m", "tagger.train", "--corpus", "toy", "--epochs", "1",
               "--no-progress", "--out", str(Path(work) / "toy")]
        model = args.model and str(Path(args.model).resolve())
        if model is None:
            subprocess.run(toy, capture_output=True, check=True, env=env, cwd=code)
            model = str(Path(work) / "toy")
        commands = [
            ("python -c pass", [*python, "-c", "pass"]),
            ("python -c 'import torch'", [*python, "-c", "import torch"]),
            ("python -c 'import nltk'", [*python, "-c", "import nltk"]),
            ("train --help", [*python, "-m", "tagger.train", "--help"]),
            ("tag --help", [*python, "-m", "tagger.tag", "--help"]),
            ("pretrain --help", [*python, "-m", "tagger.pretrain", "--help"]),
            ("tag one sentence", [*python, "-m", "tagger.tag", "--model", model, SENTENCE]),
            ("tag one sentence --tokenized",
             [*python, "-m", "tagger.tag", "--model", model, "--tokenized", SENTENCE]),
            ("train --corpus toy --epochs 1", toy),
        ]
        print(f"{cpu_name()}, {os.cpu_count()} CPUs; code from {code}; model {model}; "
              f"{args.repeat} runs each")
        print(f"{'command':32} {'median s':>9} {'fastest s':>10}")
        for name, command in commands:
            median, fastest = seconds(command, env, args.repeat, code)
            print(f"{name:32} {median:9.2f} {fastest:10.2f}", flush=True)


if __name__ == "__main__":
    main()
