#!/usr/bin/env python
"""The hand-made LSTM tagger, the nn.LSTM tagger and NLTK's perceptron on the Penn Treebank sample.

(`--encoders hand torch rnn` adds the same tagger on the hand-made plain RNN, tagger.rnn.)

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
    python scripts/eval_treebank.py --pretrained models/pretrained --ensemble 2 --jobs 2

Models go to --models as treebank-{hand,torch,rnn}[-pretrained]-seed{N}. Any training flag of
`python -m tagger.train` (--epochs, --hidden-size ...) applies to every LSTM tagger. --ensemble K
adds, for the last configuration (the pretrained one when --pretrained is given), ensembles of K
models per seed N: those of seeds N, N + 1000, ..., N + 1000 (K - 1), the first being the single
model of seed N, so single and ensemble are compared on the same runs. --jobs J trains J models
at a time, each in a process of its own with cores / J threads unless --threads says otherwise.
"""

import argparse
import dataclasses
import json
import multiprocessing
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import torch

from tagger import data, evaluate as ev
from tagger.config import Config
from tagger.errors import ArgumentParser, TaggerError, cli
from tagger.tag import PosTagger
from tagger.train import train
from tagger.vocab import Vocab

ENCODERS = ("hand", "torch", "rnn")  # --encoders picks among them; hand and torch by default
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


def reusable(config, reuse):
    """The metrics of the model already trained with this config in config.out, if --reuse."""
    folder = Path(config.out)
    if reuse and (folder / "metrics.json").exists():
        config = dataclasses.replace(config, epochs=data.epochs_for(config, config.corpus))
        saved = Config.from_json((folder / "config.json").read_text(), str(folder / "config.json"))
        metrics = json.loads((folder / "metrics.json").read_text())
        if saved.corpus == "auto" and metrics.get("corpus") == config.corpus:
            saved.corpus = config.corpus  # `--corpus auto` found this very corpus
        if saved.epochs != config.epochs and same_model_with_epochs(saved, metrics, config.epochs):
            saved.epochs = config.epochs
            if len(metrics["history"]) > config.epochs:  # its later epochs are not the short run's
                metrics = {**metrics, "history": metrics["history"][:config.epochs],
                           "train_seconds": None}  # nor is its time
        differ = [f"--{f.name.replace('_', '-')} {getattr(saved, f.name)} (asked "
                  f"{getattr(config, f.name)})" for f in dataclasses.fields(Config)
                  if f.name not in Config.run_only()
                  and getattr(saved, f.name) != getattr(config, f.name)]
        if differ:
            raise TaggerError(f"{folder} was trained with other settings: {', '.join(differ)}; "
                              "give the same flags, or drop --reuse to retrain it")
        print(f"reusing {folder}", file=sys.stderr)
        return metrics
    return None


def same_model_with_epochs(saved, metrics, epochs) -> bool:
    """Whether a run with at most `epochs` epochs saves the model this finished run saved. With a
    constant learning rate, --epochs only says where a run stops: up to there both runs are the
    same, so the saved best is the same if it came no later than `epochs`, and the shorter run
    cannot have gone on where the longer one stopped early (its patience ran out)."""
    ran = len(metrics.get("history", []))
    return (saved.lr_schedule == "constant" and "test" in metrics
            and metrics.get("best_epoch", epochs + 1) <= epochs
            and (epochs <= ran or ran < saved.epochs))


def _train_logged(config):
    """One run in a worker process of --jobs: its log lines start with the model's name."""
    name = Path(config.out).name
    if config.threads:
        torch.set_num_threads(config.threads)
    return config.out, train(config, log=lambda line: print(f"{name}: {line}", file=sys.stderr,
                                                           flush=True))


def ensemble_seeds(seed, size):
    """The seeds of the ensemble of `size` models for seed N: N, N + 1000, ..., so that its first
    member is the single model of seed N and single and ensemble are compared on the same runs."""
    return [seed + 1000 * k for k in range(size)]


def train_all(configs, reuse, jobs):
    """out folder -> metrics, for every config: reused (--reuse) or trained, `jobs` at a time."""
    done, todo = {}, {}
    for config in configs:
        if config.out not in done and config.out not in todo:
            metrics = reusable(config, reuse)
            if metrics is not None:
                done[config.out] = metrics
            else:
                todo[config.out] = config
    if jobs == 1:
        for config in todo.values():
            print(f"training {Path(config.out).name}", file=sys.stderr)
            done[config.out] = train(config)
        return done
    # One thread each by default: runs this small gain more from a core of their own than from
    # a second thread. spawn, not fork: a forked copy of a process that has run torch can hang.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    configs = [dataclasses.replace(c, progress=False, threads=c.threads or max(1, cores // jobs))
               for c in todo.values()]
    print(f"training {len(configs)} models, {jobs} at a time", file=sys.stderr)
    with multiprocessing.get_context("spawn").Pool(jobs, maxtasksperchild=1) as pool:
        for out, metrics in pool.imap_unordered(_train_logged, configs):
            done[out] = metrics
    return done


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


def parse_args(argv=None) -> tuple[argparse.Namespace, Config]:
    parser = ArgumentParser(prog="scripts/eval_treebank.py", description=__doc__.split("\n")[0])
    Config.add_arguments(parser)
    parser.set_defaults(corpus="treebank")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="train every LSTM tagger once per seed (default: --seed)")
    parser.add_argument("--models", default="models", help="folder for the models (default: models)")
    parser.add_argument("--report", default="reports/treebank", help="output folder")
    parser.add_argument("--reuse", action="store_true", help="load already trained models")
    parser.add_argument("--encoders", nargs="+", choices=ENCODERS, default=["hand", "torch"],
                        help="the encoders to train and compare (default: hand torch; rnn adds "
                             "the hand-made plain RNN)")
    parser.add_argument("--ensemble", type=int, default=1, metavar="K",
                        help="also evaluate the last configuration as ensembles of K models "
                             "per seed (default: 1, none)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="train this many models at a time, each in its own process "
                             "(default: 1)")
    args = parser.parse_args(argv)
    parser.require_at_least(args, ensemble=1, jobs=1)
    return args, Config.from_args(args)


@cli
def main(argv=None):
    args, base = parse_args(argv)
    seeds = args.seeds or [base.seed]
    if base.threads:
        torch.set_num_threads(base.threads)
    report = Path(args.report)
    report.mkdir(parents=True, exist_ok=True)
    splits = data.load_corpus(base)
    if not splits.test:
        raise TaggerError(f"corpus {splits.name} has no test sentences to evaluate on")
    words = [[w for w, _ in s] for s in splits.test]

    predicted, seconds, speed = perceptron(splits, words, seeds[0])
    is_known = Vocab.build(splits.train).is_known
    results = {PERCEPTRON: [{**ev.evaluate(splits.test, predicted, is_known),
                             "train_seconds": seconds, "tokens_per_second": speed}]}
    first = {PERCEPTRON: results[PERCEPTRON][0]}
    # (suffix of the row names, --pretrained, models per ensemble)
    variants = [("", None, 1)] + ([("-pretrained", base.pretrained, 1)] if base.pretrained else [])
    if args.ensemble > 1:
        suffix, pretrained, _ = variants[-1]
        variants.append((f"{suffix}-ensemble{args.ensemble}", pretrained, args.ensemble))
    predictions, histories = score_lstm_taggers(args, base, splits, seeds, variants, results, first)
    write_report(report, base, splits, seeds, variants, results, first, predictions, histories)


def score_lstm_taggers(args, base, splits, seeds, variants, results, first):
    """Train (or reuse) every LSTM tagger and score it on test, into `results` (name -> one
    result per seed) and `first` (name -> the first seed's); -> the first seed's predicted
    tags and training histories, by name, and its confusion matrices drawn into --report."""
    words = [[w for w, _ in s] for s in splits.test]
    predictions, histories = {}, {}

    def member(encoder, pretrained, seed):
        name = f"{encoder}{'-pretrained' if pretrained else ''}"
        return dataclasses.replace(base, encoder=encoder, seed=seed, pretrained=pretrained,
                                   out=str(Path(args.models) / f"{splits.name}-{name}-seed{seed}"))

    trained = train_all([member(encoder, pretrained, s)
                         for _, pretrained, size in variants for encoder in args.encoders
                         for seed in seeds for s in ensemble_seeds(seed, size)],
                        args.reuse, args.jobs)
    for suffix, pretrained, size in variants:
        for encoder in args.encoders:
            name = f"{encoder}{suffix}"
            results[name] = []
            for seed in seeds:
                members = [(config.out, trained[config.out]) for config in
                           (member(encoder, pretrained, s) for s in ensemble_seeds(seed, size))]
                tagger = PosTagger.load([out for out, _ in members], base.device)
                tags = tagger.predict(words)
                result = {**ev.evaluate(splits.test, tags, tagger.vocab.is_known),
                          "train_seconds": sum(m.get("train_seconds") or 0 for _, m in members)
                          or None,
                          "epochs": sum(len(m["history"]) for _, m in members), "seed": seed}
                if seed == seeds[0]:
                    result["tokens_per_second"] = tagging_speed(tagger.predict, words)
                    predictions[name], first[name] = tags, result
                    if size == 1:  # an ensemble's curves are its members'
                        histories[name] = members[0][1]["history"]
                    ev.plot_confusion(splits.test, tags,
                                      Path(args.report) / f"confusion-{name}.png",
                                      f"{name}: confusion on test (rows: gold)")
                results[name].append(result)
    return predictions, histories


def write_report(report, base, splits, seeds, variants, results, first, predictions, histories):
    """report.md, report.json and curves.png into `report`; the tables to stdout."""
    ev.plot_curves(histories, report / "curves.png", f"Training on {splits.name} (seed {seeds[0]})")
    agreement = {suffix.lstrip("-") or "no pretraining": ev.agreement(
                     predictions[f"hand{suffix}"], predictions[f"torch{suffix}"])
                 for suffix, _, _ in variants if f"torch{suffix}" in predictions
                 and f"hand{suffix}" in predictions}
    machine = (f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
               f"torch {torch.__version__}")
    test = first[next(name for name in first if name != PERCEPTRON)]
    names = {"hand": "hand-made LSTM", "torch": "nn.LSTM", "rnn": "hand-made RNN"}
    encoders = [names[e] for e in names if e in first]
    markdown = "\n".join([
        f"# {splits.name}: {', '.join(encoders)} and NLTK's perceptron",
        "",
        f"Test split: {test['tokens']:,} tokens, {test['unknown_tokens']:,} unknown to the training "
        f"split. Same configuration for every neural tagger, seeds {seeds}"
        + (f", pretrained: {base.pretrained}" if base.pretrained else "") + f"; {machine}.",
        "",
        seeds_table(results),
        "",
        f"## First seed ({seeds[0]})",
        "",
        ev.summary_table(first),
        "",
        ("Agreement of the hand and nn.LSTM taggers on test tokens: "
         + ", ".join(f"{100 * a:.2f}% ({k})" for k, a in agreement.items()) + ".")
        if agreement else "",
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
