#!/usr/bin/env python
"""The hand-made LSTM tagger, the nn.LSTM tagger and NLTK's perceptron on the Penn Treebank sample.

Trains the NLTK averaged perceptron (5 iterations) and both LSTM taggers with the same configuration
and seeds (or loads them with --reuse), with and without pretraining when --pretrained is given,
tags the test split (wsj_0171-wsj_0199) with each, and writes to --report (default reports/treebank):

    report.md          accuracy per configuration (mean and spread over seeds), per-tag
                       precision/recall/F1, agreement of the two encoders, speed
    report.json        every figure above, machine-readable
    confusion-*.png    confusion matrix of each LSTM tagger (first seed) on its 20 commonest tags
    curves.png         training loss and dev accuracy per epoch (first seed)

    python scripts/eval_treebank.py                                   # seed 1, no pretraining
    python scripts/eval_treebank.py --pretrained models/pretrained --seeds 1 2 3
    python scripts/eval_treebank.py --reuse ...                       # load the models if present

Models go to --models as treebank-{hand,torch}[-pretrained]-seed{N}. Any training flag of
`python -m tagger.train` (--epochs, --hidden-size ...) applies to every LSTM tagger.
"""

import argparse
import dataclasses
import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import torch

from tagger import data, evaluate as ev
from tagger.config import Config
from tagger.errors import TaggerError, cli
from tagger.tag import PosTagger
from tagger.train import train
from tagger.vocab import Vocab

ENCODERS = ("hand", "torch")
PERCEPTRON = "NLTK perceptron"


def tagging_speed(tag_sents, sentences, repeats=3):
    """Tokens per second of `tag_sents` on these sentences, best of a few runs (model loaded)."""
    tokens = sum(len(s) for s in sentences)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        tag_sents(sentences)
        times.append(time.perf_counter() - start)
    return tokens / min(times)


# Settings that do not change what a run learns: a reused model may differ in these.
RUN_ONLY = {"out", "threads", "progress", "resume", "device"}


def train_or_load(config, reuse):
    folder = Path(config.out)
    if reuse and (folder / "metrics.json").exists():
        saved = Config.from_json((folder / "config.json").read_text(), str(folder / "config.json"))
        metrics = json.loads((folder / "metrics.json").read_text())
        if saved.corpus == "auto" and metrics.get("corpus") == config.corpus:
            saved.corpus = config.corpus  # `--corpus auto` found this very corpus
        differ = [f"--{f.name.replace('_', '-')} {getattr(saved, f.name)} (asked "
                  f"{getattr(config, f.name)})" for f in dataclasses.fields(Config)
                  if f.name not in RUN_ONLY and getattr(saved, f.name) != getattr(config, f.name)]
        if differ:
            raise TaggerError(f"{folder} was trained with other settings: {', '.join(differ)}; "
                              "give the same flags, or drop --reuse to retrain it")
        print(f"reusing {folder}", file=sys.stderr)
        return metrics
    print(f"training {folder.name}", file=sys.stderr)
    return train(config)


def perceptron(splits, words, seed):
    """NLTK's averaged perceptron trained on the same split: the classic tagger to beat."""
    from nltk.tag.perceptron import PerceptronTagger

    random.seed(seed)  # it shuffles the sentences with `random` between iterations
    tagger = PerceptronTagger(load=False)
    start = time.perf_counter()
    tagger.train(splits.train, nr_iter=5)
    seconds = time.perf_counter() - start
    predicted = [[tag for _, tag in tagged] for tagged in tagger.tag_sents(words)]
    return predicted, seconds, tagging_speed(tagger.tag_sents, words)


def spread(results: list[dict], key: str) -> dict:
    values = [r[key] for r in results if r.get(key) is not None]
    return {"mean": statistics.mean(values) if values else None,
            "sd": statistics.stdev(values) if len(values) > 1 else 0.0, "values": values}


def seeds_table(rows: dict[str, list[dict]]) -> str:
    """Markdown: per configuration, mean ± sd over seeds of accuracy and unknown-word accuracy."""
    lines = ["| tagger | seeds | test accuracy % | unknown words % | per seed (acc / unk) |",
             "|---|---|---|---|---|"]
    for name, results in rows.items():
        acc, unk = spread(results, "accuracy"), spread(results, "unknown_accuracy")
        per_seed = ", ".join(f"{100 * a:.2f} / {100 * u:.2f}"
                             for a, u in zip(acc["values"], unk["values"]))
        lines.append(f"| {name} | {len(results)} | {100 * acc['mean']:.2f} ± {100 * acc['sd']:.2f} "
                     f"| {100 * unk['mean']:.2f} ± {100 * unk['sd']:.2f} | {per_seed} |")
    return "\n".join(lines)


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    Config.add_arguments(parser)
    parser.set_defaults(corpus="treebank")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="train every LSTM tagger once per seed (default: --seed)")
    parser.add_argument("--models", default="models", help="folder for the models (default: models)")
    parser.add_argument("--report", default="reports/treebank", help="output folder")
    parser.add_argument("--reuse", action="store_true", help="load already trained models")
    args = parser.parse_args(argv)
    base = Config.from_args(args)
    seeds = args.seeds or [base.seed]
    if base.threads:
        torch.set_num_threads(base.threads)
    report = Path(args.report)
    report.mkdir(parents=True, exist_ok=True)
    splits = data.load_corpus(base)
    if not splits.test:
        raise TaggerError(f"corpus {splits.name} has no test sentences to evaluate on")
    words = [[w for w, _ in s] for s in splits.test]
    is_known = Vocab.build(splits.train).is_known

    predicted, seconds, speed = perceptron(splits, words, seeds[0])
    results = {PERCEPTRON: [{**ev.evaluate(splits.test, predicted, is_known),
                             "train_seconds": seconds, "tokens_per_second": speed}]}
    predictions, histories, first = {}, {}, {PERCEPTRON: results[PERCEPTRON][0]}
    variants = [("", None)] + ([("-pretrained", base.pretrained)] if base.pretrained else [])
    for suffix, pretrained in variants:
        for encoder in ENCODERS:
            name = f"{encoder}{suffix}"
            results[name] = []
            for seed in seeds:
                config = dataclasses.replace(
                    base, encoder=encoder, seed=seed, pretrained=pretrained,
                    out=str(Path(args.models) / f"{splits.name}-{name}-seed{seed}"))
                metrics = train_or_load(config, args.reuse)
                tagger = PosTagger.load(config.out, config.device)
                tags = tagger.predict(words)
                result = {**ev.evaluate(splits.test, tags, tagger.vocab.is_known),
                          "train_seconds": metrics.get("train_seconds"),
                          "epochs": len(metrics["history"]), "seed": seed}
                if seed == seeds[0]:
                    result["tokens_per_second"] = tagging_speed(tagger.predict, words)
                    predictions[name], histories[name], first[name] = tags, metrics["history"], result
                    ev.plot_confusion(splits.test, tags, report / f"confusion-{name}.png",
                                      f"{name}: confusion on test (rows: gold)")
                results[name].append(result)
    ev.plot_curves(histories, report / "curves.png", f"Training on {splits.name} (seed {seeds[0]})")
    agreement = {suffix or "no pretraining": ev.agreement(predictions[f"hand{suffix}"],
                                                          predictions[f"torch{suffix}"])
                 for suffix, _ in variants}

    machine = (f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
               f"torch {torch.__version__}")
    test = first["hand"]
    markdown = "\n".join([
        f"# {splits.name}: hand-made LSTM, nn.LSTM and NLTK's perceptron",
        "",
        f"Test split: {test['tokens']:,} tokens, {test['unknown_tokens']:,} unknown to the training "
        f"split. Same configuration for every LSTM tagger, seeds {seeds}"
        + (f", pretrained: {base.pretrained}" if base.pretrained else "") + f"; {machine}.",
        "",
        seeds_table(results),
        "",
        f"## First seed ({seeds[0]})",
        "",
        ev.summary_table(first),
        "",
        "Agreement of the hand and nn.LSTM taggers on test tokens: "
        + ", ".join(f"{100 * a:.2f}% ({k})" for k, a in agreement.items()) + ".",
        "",
        "## Per tag (test, first seed)",
        "",
        ev.per_tag_table({name: first[name] for name in first}),
        "",
        "![curves](curves.png) "
        + " ".join(f"![{name}](confusion-{name}.png)" for name in predictions),
        "",
    ])
    (report / "report.md").write_text(markdown)
    (report / "report.json").write_text(json.dumps(
        {"corpus": splits.name, "config": dataclasses.asdict(base), "seeds": seeds,
         "machine": machine, "agreement": agreement, "results": results,
         "summary": {name: {k: spread(r, k) for k in ("accuracy", "unknown_accuracy")}
                     for name, r in results.items()},
         "histories": histories}, indent=2))
    print(seeds_table(results))
    print("\n" + ev.summary_table(first))
    print(f"\nfull report in {report / 'report.md'}")


if __name__ == "__main__":
    main()
