#!/usr/bin/env python
"""The hand-made LSTM tagger and the nn.LSTM tagger side by side on the Penn Treebank sample.

Trains both with the same configuration and seed (or loads them with --reuse), tags the test split
(wsj_0171-wsj_0199) with each, and writes to --report (default reports/treebank):

    report.md          summary, per-tag precision/recall/F1, agreement, speed
    report.json        every figure above, machine-readable
    confusion-*.png    confusion matrix of each tagger on its 20 most frequent gold tags
    curves.png         training loss and dev accuracy per epoch

    python scripts/eval_treebank.py                # train both (a few minutes each on 2 cores)
    python scripts/eval_treebank.py --reuse        # reuse models/treebank-{hand,torch} if present

Any training flag of `python -m tagger.train` (--epochs, --hidden-size, --seed ...) applies to both.
"""

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import torch

from tagger import data, evaluate as ev
from tagger.config import Config
from tagger.errors import TaggerError, cli
from tagger.tag import PosTagger
from tagger.train import train

ENCODERS = ("hand", "torch")


def tagging_speed(tagger, sentences, repeats=3):
    """Tokens per second of `predict` on these sentences, best of a few runs (model already loaded)."""
    tokens = sum(len(s) for s in sentences)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        tagger.predict(sentences)
        times.append(time.perf_counter() - start)
    return tokens / min(times)


def train_or_load(config, reuse):
    folder = Path(config.out)
    if reuse and (folder / "model.safetensors").exists():
        print(f"reusing {folder}", file=sys.stderr)
        return json.loads((folder / "metrics.json").read_text())
    print(f"training the {config.encoder} tagger into {folder}", file=sys.stderr)
    return train(config)


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    Config.add_arguments(parser)
    parser.set_defaults(corpus="treebank")
    parser.add_argument("--models", default="models", help="folder for the two models (default: models)")
    parser.add_argument("--report", default="reports/treebank", help="output folder")
    parser.add_argument("--reuse", action="store_true", help="load already trained models")
    args = parser.parse_args(argv)
    base = Config.from_args(args)
    if base.threads:
        torch.set_num_threads(base.threads)
    report = Path(args.report)
    report.mkdir(parents=True, exist_ok=True)
    splits = data.load_corpus(base)
    if not splits.test:
        raise TaggerError(f"corpus {splits.name} has no test sentences to evaluate on")
    words = [[w for w, _ in s] for s in splits.test]

    results, predictions, histories, summary = {}, {}, {}, {}
    for encoder in ENCODERS:
        config = dataclasses.replace(base, encoder=encoder, out=str(Path(args.models) / f"{splits.name}-{encoder}"))
        metrics = train_or_load(config, args.reuse)
        tagger = PosTagger.load(config.out, config.device)
        predictions[encoder] = tagger.predict(words)
        results[encoder] = ev.evaluate(splits.test, predictions[encoder], tagger.vocab.is_known)
        histories[encoder] = metrics["history"]
        summary[encoder] = {**results[encoder], "train_seconds": metrics.get("train_seconds"),
                            "epochs": len(metrics["history"]),
                            "tokens_per_second": tagging_speed(tagger, words)}
        ev.plot_confusion(splits.test, predictions[encoder], report / f"confusion-{encoder}.png",
                          f"{encoder} encoder: confusion on test (rows: gold)")
    ev.plot_curves(histories, report / "curves.png", f"Training on {splits.name}: hand vs nn.LSTM")
    agree = ev.agreement(predictions["hand"], predictions["torch"])

    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    markdown = "\n".join([
        f"# {splits.name}: hand-made LSTM vs nn.LSTM",
        "",
        f"Test split: {results['hand']['tokens']:,} tokens, {results['hand']['unknown_tokens']:,} "
        f"unknown to the training split. Same configuration and seed ({base.seed}) for both; {machine}.",
        "",
        ev.summary_table(summary),
        "",
        f"Agreement between the two taggers: {100 * agree:.2f}% of test tokens.",
        "",
        "## Per tag (test)",
        "",
        ev.per_tag_table(results),
        "",
        "![curves](curves.png) ![hand](confusion-hand.png) ![torch](confusion-torch.png)",
        "",
    ])
    (report / "report.md").write_text(markdown)
    config_dict = dataclasses.asdict(base)
    (report / "report.json").write_text(json.dumps(
        {"corpus": splits.name, "config": config_dict, "machine": machine, "agreement": agree,
         "results": summary, "histories": histories}, indent=2))
    print(ev.summary_table(summary))
    print(f"\nagreement {100 * agree:.2f}%; full report in {report / 'report.md'}")


if __name__ == "__main__":
    main()
