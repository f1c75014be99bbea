#!/usr/bin/env python
"""End-to-end speed, `--encoder hand` against `--encoder torch`, in every configuration the README
shows: plain, pretrained, and an ensemble of two.

    python scripts/bench_end_to_end.py --threads 1 [--tokens 100000] [--pretrained DIR] [--repeat 2]

1. Training: one epoch of the default tagger on the treebank split, plain and with --pretrained
   (the folder given, or one pretrained here on the treebank's own text: small, but the same
   sizes of vectors and language models), with each encoder, same seed, same batches; the
   encoders alternate, --repeat times, and the fastest epoch of each counts. Printed: seconds of
   the epoch's training loop.
2. Tagging a file of at least --tokens treebank tokens, one sentence a line, with `python -m
   tagger.tag --tokenized --format conll` run in this process, by the plain model, the pretrained
   one, and an ensemble of the plain model and one trained with another seed, alternating as
   above. Printed: the fastest run's tokens/s, the models' loading time taken out.

The ratio hand/torch is what to read: at most 1.00 means the hand-made LSTM is not the slower.
"""

import contextlib
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from bench_busy import cpu_name

from tagger import data, tag
from tagger.config import Config
from tagger.errors import ArgumentParser, cli
from tagger.pretrain import Settings, pretrain
from tagger.train import train

ENCODERS = ("hand", "torch")


def train_epoch(config):
    """(seconds of the epoch's training loop, its tokens/s)."""
    epoch = train(config, log=lambda message: None)["history"][0]
    return epoch["seconds"], epoch["tokens_per_second"]


def tokens_per_second(models, text, tokens):
    """Tagging speed of `python -m tagger.tag` over `text`, the models' loading time taken out."""
    start = time.perf_counter()
    tag.PosTagger.load(models, "cpu")
    load = time.perf_counter() - start
    flags = [flag for model in models for flag in ("--model", model)]
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        start = time.perf_counter()
        tag.main([*flags, "--tokenized", "--format", "conll", "--file", str(text),
                  "--device", "cpu"])
        total = time.perf_counter() - start
    return tokens / (total - load)


def row(name, unit, hand, torch_, lower_is_faster):
    ratio = hand / torch_ if lower_is_faster else torch_ / hand
    print(f"{name:38} {hand:12,.2f} {torch_:12,.2f} {unit:9} {ratio:10.2f}", flush=True)


@cli
def main(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("--tokens", type=int, default=100_000, help="tokens to tag")
    parser.add_argument("--pretrained", help="folder made by python -m tagger.pretrain "
                                             "(default: one made here from the treebank's text)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per encoder and "
                                                              "configuration; the fastest counts")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    base = Config(corpus="treebank", epochs=1, progress=False, threads=args.threads)
    print(f"{cpu_name()}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    pretrained = args.pretrained
    if pretrained is None:
        pretrained = str(work / "pretrained")
        start = time.perf_counter()
        pretrain(Settings(text=("treebank",), epochs=1, jobs=1, threads=args.threads or 1),
                 log=lambda message: None).save(pretrained)
        print(f"pretrained on the treebank's text in {time.perf_counter() - start:.0f} s")
    configs = {"plain": {}, "pretrained": {"pretrained": pretrained}}

    print(f"{'':38} {'hand':>12} {'torch':>12} {'':9} {'hand/torch':>10}")
    for name, changes in configs.items():
        seconds = {encoder: [] for encoder in ENCODERS}
        for _, encoder in ((k, e) for k in range(args.repeat) for e in ENCODERS):
            config = dataclasses.replace(base, encoder=encoder, out=str(work / f"{name}-{encoder}"),
                                         **changes)
            seconds[encoder].append(train_epoch(config)[0])
        row(f"training epoch, {name}", "s", min(seconds["hand"]), min(seconds["torch"]), True)

    sentences = [[w for w, _ in s] for s in data.load_corpus(base).train]
    text, tokens = work / "text.txt", 0
    with open(text, "w") as f:
        while tokens < args.tokens:
            for s in sentences:
                f.write(" ".join(s) + "\n")
                tokens += len(s)
                if tokens >= args.tokens:
                    break
    for encoder in ENCODERS:  # the ensemble's second member
        train(dataclasses.replace(base, encoder=encoder, seed=2, out=str(work / f"seed2-{encoder}")),
              log=lambda message: None)
    models = {"plain": lambda e: [str(work / f"plain-{e}")],
              "pretrained": lambda e: [str(work / f"pretrained-{e}")],
              "ensemble of 2": lambda e: [str(work / f"plain-{e}"), str(work / f"seed2-{e}")]}
    for name, members in models.items():
        speed = {encoder: [] for encoder in ENCODERS}
        for _, encoder in ((k, e) for k in range(args.repeat) for e in ENCODERS):
            speed[encoder].append(tokens_per_second(members(encoder), text, tokens))
        speed = {encoder: max(runs) for encoder, runs in speed.items()}
        row(f"tagging {tokens:,} tokens, {name}", "tokens/s", speed["hand"], speed["torch"], False)


if __name__ == "__main__":
    sys.exit(main())
