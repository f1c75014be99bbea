#!/usr/bin/env python
"""Taggers on everyday English: the treebank test split and MASC's written dev half, by genre.

Trains (or, with --reuse, loads) the hand-made and the nn.LSTM tagger with the same settings and
seeds, and NLTK's averaged perceptron on the same training data, then scores each on

    the treebank test split (wsj_0171-wsj_0199): accuracy and accuracy on unknown words;
    MASC dev (corpora/masc-dev-fileids.txt: 16 genres of written American English, none of it
    news from 1989): accuracy overall, on unknown words, and per genre. Tokens are fed as MASC
    gives them (`--tokenized`); its quotes and non-Penn tags are tagged but not scored.

    python scripts/eval_english.py                          # the default model (--corpus english)
    python scripts/eval_english.py --seeds 1 2 3 --jobs 2 --threads 1
    python scripts/eval_english.py --corpus treebank        # the old default, for comparison
    python scripts/eval_english.py --score models/latest    # score trained model folders only
    python scripts/eval_english.py --epochs 9 --ensemble 3 --jobs 2 --threads 1   # the best recipe

Writes report.md and report.json to --report (default reports/english) and prints the table with
the command that reproduces each row. Any flag of `python -m tagger.train` applies to every LSTM
tagger; models go to --models as {corpus}-{encoder}[-pretrained]-seed{N}. --ensemble K adds, per
encoder, the ensembles of K models per seed N: those of seeds N, N + 1000, ..., N + 1000 (K - 1).
"""

import argparse
import dataclasses
import json
import shlex
import sys
from pathlib import Path

from eval_treebank import ENCODERS, PERCEPTRON, ensemble_seeds, spread, train_all

from tagger import data, evaluate as ev
from tagger.config import Config
from tagger.errors import ArgumentParser, cli
from tagger.tag import PosTagger
from tagger.text import treebank_forms
from tagger.vocab import TAG_SET, Vocab

WORST_GENRES = 3


def score(predict, is_known, test, masc):
    """Figures of one tagger (`predict`: sentences of tokens -> their tags) on both evaluations."""
    on_test = ev.evaluate(test, predict([[w for w, _ in s] for s in test]), is_known)
    genres = {}
    for genre, sentences in masc.items():
        genres[genre] = ev.evaluate(sentences, predict([[w for w, _ in s] for s in sentences]),
                                    is_known)
    every = [s for sentences in masc.values() for s in sentences]
    hits = sum(g["accuracy"] * g["tokens"] for g in genres.values())
    unknown_hits = sum((g["unknown_accuracy"] or 0) * g["unknown_tokens"] for g in genres.values())
    unknown = sum(g["unknown_tokens"] for g in genres.values())
    tokens = sum(g["tokens"] for g in genres.values())
    return {"test_accuracy": on_test["accuracy"], "test_unknown_accuracy": on_test["unknown_accuracy"],
            "masc_accuracy": hits / tokens, "masc_unknown_accuracy": unknown_hits / unknown,
            "masc_tokens": tokens, "masc_unknown_tokens": unknown, "masc_sentences": len(every),
            "genres": {g: r["accuracy"] for g, r in genres.items()}}


def resolve_sets(sentences):
    """A tag set's first tag (tagger.brown lists the likeliest first) and the treebank's forms of
    the words, for NLTK's perceptron, which learns one tag per token."""
    return [list(zip(treebank_forms([w for w, _ in s]), [t.split(TAG_SET)[0] for _, t in s]))
            for s in sentences]


def row(name, results):
    """One Markdown row: mean ± sd over seeds of every figure, worst genres by their mean."""
    def cell(key):
        s = spread(results, key)
        return f"{100 * s['mean']:.2f} ± {100 * s['sd']:.2f}" if len(results) > 1 \
            else f"{100 * s['mean']:.2f}"
    genres = {g: sum(r["genres"][g] for r in results) / len(results) for g in results[0]["genres"]}
    worst = ", ".join(f"{g} {100 * a:.1f}" for g, a in sorted(genres.items(), key=lambda x: x[1])
                      [:WORST_GENRES])
    minutes = [r["train_seconds"] / 60 for r in results if r.get("train_seconds")]
    time = f"{sum(minutes) / len(minutes):.1f}" if minutes else "–"
    return (f"| {name} | {len(results)} | {cell('test_accuracy')} | {cell('test_unknown_accuracy')} "
            f"| {cell('masc_accuracy')} | {cell('masc_unknown_accuracy')} | {worst} | {time} |")


HEADER = ["| tagger | seeds | treebank test % | unknown % | MASC dev % | MASC unknown % | "
          "worst genres (MASC dev %) | train min |", "|---|---|---|---|---|---|---|---|"]


def command(config, base_flags):
    """The `python -m tagger.train` command that trains this model."""
    corpus = [] if "--corpus" in base_flags else ["--corpus", config.corpus]
    return shlex.join(["python", "-m", "tagger.train", *corpus, *base_flags, "--encoder", config.encoder,
                       "--seed", str(config.seed), "--out", config.out])


def train_flags(argv):
    """The training flags given on this command line (those of Config), to repeat in commands."""
    known = {"--" + f.name.replace("_", "-") for f in dataclasses.fields(Config)}
    known |= {"--no-" + flag[2:] for flag in known}
    flags, i = [], 0
    while i < len(argv):
        name = argv[i].split("=")[0]
        if name in known - {"--encoder", "--seed", "--out"}:
            takes_value = "=" not in argv[i] and i + 1 < len(argv) and not argv[i + 1].startswith("--")
            flags += argv[i:i + 1 + takes_value]
            i += 1 + takes_value
        else:
            i += 1
    return flags


def parse_args(argv) -> tuple[argparse.Namespace, Config]:
    parser = ArgumentParser(prog="scripts/eval_english.py", description=__doc__.split("\n")[0])
    Config.add_arguments(parser)
    parser.set_defaults(corpus="english")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="train every LSTM tagger once per seed (default: --seed)")
    parser.add_argument("--encoders", nargs="+", choices=ENCODERS, default=list(ENCODERS))
    parser.add_argument("--models", default="models", help="folder for the models (default: models)")
    parser.add_argument("--report", default="reports/english", help="output folder")
    parser.add_argument("--reuse", action="store_true", help="load already trained models")
    parser.add_argument("--jobs", type=int, default=1,
                        help="train this many models at a time, each in its own process")
    parser.add_argument("--ensemble", type=int, default=1, metavar="K",
                        help="also score, per seed N, the ensemble of the models of seeds N, "
                             "N + 1000, ..., N + 1000 (K - 1) (default: 1, none)")
    parser.add_argument("--no-perceptron", dest="perceptron", action="store_false",
                        help="leave out NLTK's perceptron row")
    parser.add_argument("--score", nargs="+", metavar="MODEL",
                        help="only score these model folders (an ensemble when joined by '+')")
    args = parser.parse_args(argv)
    parser.require_at_least(args, ensemble=1, jobs=1)
    return args, Config.from_args(args)


@cli
def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args, base = parse_args(argv)
    seeds = args.seeds or [base.seed]
    masc = data.masc_dev()
    splits = data.load_corpus(base)
    if args.score:
        results, commands = score_folders(args.score, base, splits, masc), {}
    else:
        results, commands = train_and_score(args, base, seeds, splits, masc, train_flags(argv))
    write_report(Path(args.report), base, seeds, splits.name, results, commands)


def score_folders(specs, base, splits, masc) -> dict:
    """name -> [figures] of each model folder (or '+'-joined ensemble) as it is."""
    results = {}
    for spec in specs:
        tagger = PosTagger.load(spec.split("+"), base.device)
        metrics_file = Path(spec.split("+")[0]) / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
        results[spec] = [{**score(tagger.predict, tagger.vocab.is_known, splits.test, masc),
                          "train_seconds": metrics.get("train_seconds")}]
    return results


def train_and_score(args, base, seeds, splits, masc, flags) -> tuple[dict, dict]:
    """The perceptron and every encoder x seed, trained (or reused) and scored: name -> [figures
    per seed], and name -> the commands that reproduce them."""
    results, commands = {}, {}
    if args.perceptron:
        results[PERCEPTRON] = [_perceptron_scores(resolve_sets(splits.train + splits.more),
                                                  splits, masc, seeds[0])]
        commands[PERCEPTRON] = "(trained by this script on the same sentences, 5 iterations)"

    def member(encoder, seed):
        return dataclasses.replace(
            base, encoder=encoder, seed=seed,
            out=str(Path(args.models) / f"{splits.name}-{encoder}"
                    f"{'-pretrained' if base.pretrained else ''}-seed{seed}"))

    sizes = [1] + ([args.ensemble] if args.ensemble > 1 else [])
    trained = train_all([member(encoder, s) for encoder in args.encoders for seed in seeds
                         for s in ensemble_seeds(seed, max(sizes))], args.reuse, args.jobs)
    for encoder in args.encoders:
        for size in sizes:
            name = encoder if size == 1 else f"{encoder}-ensemble{size}"
            results[name] = []
            for seed in seeds:
                configs = [member(encoder, s) for s in ensemble_seeds(seed, size)]
                tagger = PosTagger.load([c.out for c in configs], base.device)
                seconds = [trained[c.out].get("train_seconds") for c in configs]
                results[name].append({
                    **score(tagger.predict, tagger.vocab.is_known, splits.test, masc),
                    "train_seconds": sum(seconds) if None not in seconds else None, "seed": seed})
                commands.setdefault(name, []).extend(command(c, flags) for c in configs)
    return results, commands


def write_report(report, base, seeds, corpus, results, commands):
    """report.md and report.json into `report`, and the report to stdout."""
    table = "\n".join(HEADER + [row(name, r) for name, r in results.items()])
    first = next(iter(results.values()))[0]
    lines = [f"# {corpus}: the treebank test split and MASC dev", "",
             f"MASC dev: {first['masc_tokens']:,} scored tokens in {first['masc_sentences']:,} "
             f"sentences, {first['masc_unknown_tokens']:,} unknown to the first tagger's training "
             "data. Mean ± sd over seeds.", "", table, "", "## Commands", ""]
    for name, cmds in commands.items():
        lines += [f"- {name}:"] + [f"  `{c}`" for c in ([cmds] if isinstance(cmds, str) else cmds)]
    lines += ["", "## Per genre (MASC dev %, mean over seeds)", "",
              "| genre | " + " | ".join(results) + " |", "|---|" + "---|" * len(results)]
    for genre in sorted(first["genres"]):
        lines.append(f"| {genre} | " + " | ".join(
            f"{100 * sum(r['genres'][genre] for r in rs) / len(rs):.1f}" for rs in results.values())
            + " |")
    report.mkdir(parents=True, exist_ok=True)
    (report / "report.md").write_text("\n".join(lines) + "\n")
    (report / "report.json").write_text(json.dumps(
        {"corpus": corpus, "config": dataclasses.asdict(base), "seeds": seeds,
         "results": results, "commands": commands}, indent=2))
    print("\n".join(lines))


def _perceptron_scores(train, splits, masc, seed):
    import random
    import time

    from nltk.tag.perceptron import PerceptronTagger

    random.seed(seed)  # it shuffles the sentences with `random` between iterations
    tagger = PerceptronTagger(load=False)
    start = time.perf_counter()
    tagger.train(train, nr_iter=5)
    seconds = time.perf_counter() - start

    def predict(sentences):  # it reads the treebank's forms of the tokens, as the LSTMs do
        return [[tag for _, tag in tagged] for tagged in tagger.tag_sents(map(treebank_forms,
                                                                               sentences))]

    return {**score(predict, Vocab.build(train).is_known, splits.test, masc),
            "train_seconds": seconds}


if __name__ == "__main__":
    main()
