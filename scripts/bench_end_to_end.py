#!/usr/bin/env python
"""End-to-end speed: one training epoch on the treebank with each encoder, and tagging a file.

    python scripts/bench_end_to_end.py [--threads 1] [--tokens 100000]

1. Trains one epoch of the default tagger on the treebank split with `--encoder hand` and with
   `--encoder torch` (same seed, same batches) and prints the seconds of each epoch's training loop.
2. Writes a file of at least --tokens treebank tokens, one sentence a line, and tags it through
   `python -m tagger.tag --tokenized --format conll` in this process; prints tokens/s with the
   model's loading time taken out, and the loading time on its own.
"""

import argparse
import contextlib
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from tagger import data, tag
from tagger.config import Config
from tagger.train import train


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("--tokens", type=int, default=100_000)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    base = Config(corpus="treebank", epochs=1, progress=False, threads=args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    epoch = {}
    for encoder in ("hand", "torch"):
        config = dataclasses.replace(base, encoder=encoder, out=str(work / encoder))
        metrics = train(config, log=lambda message: None)
        epoch[encoder] = metrics["history"][0]
        print(f"training epoch, {encoder:5s}: {epoch[encoder]['seconds']:.2f} s "
              f"({epoch[encoder]['tokens_per_second']:,.0f} tokens/s)")
    print(f"training epoch hand/torch: {epoch['hand']['seconds'] / epoch['torch']['seconds']:.2f}")

    sentences = [[w for w, _ in s] for s in data.load_corpus(base).train]
    text, tokens = work / "text.txt", 0
    with open(text, "w") as f:
        while tokens < args.tokens:
            for s in sentences:
                f.write(" ".join(s) + "\n")
                tokens += len(s)
                if tokens >= args.tokens:
                    break
    model = str(work / "hand")
    start = time.perf_counter()
    tag.PosTagger.load(model, "cpu")
    load = time.perf_counter() - start
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        start = time.perf_counter()
        tag.main(["--model", model, "--tokenized", "--format", "conll", "--file", str(text),
                  "--device", "cpu"])
        total = time.perf_counter() - start
    print(f"tagging {tokens:,} tokens (--tokenized --format conll): "
          f"{tokens / (total - load):,.0f} tokens/s, model loading {load:.2f} s apart")


if __name__ == "__main__":
    sys.exit(main())
