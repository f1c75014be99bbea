#!/usr/bin/env python
"""tagger.bulk against tagger.tag on this machine: tokens/s with 1 and 2 workers, Ray's start-up and
what a task costs, on at least 2M tokens of text in files.

    python scripts/bench_bulk.py --model models/latest [--tokens 2000000] [--brown-check]
    python scripts/bench_bulk.py --model models/latest --file-bytes 1000000   # fewer, larger files

1. Writes Brown's 500 files as running text (its paragraphs, sentences detokenized), then NLTK's
   raw corpora (state_union, webtext, abc, movie_reviews), repeated, as further files until the
   Treebank tokenizer counts --tokens tokens (or their text in files of --file-bytes); and all of
   them, one after the other, as one file.
2. Times, one after the other: `python -m tagger.tag --file ALL --format conll --workers W
   --threads 1 --timing` and `python -m tagger.bulk FOLDER --out DIR --format conll --workers W`
   (each actor one thread), W = 1 and 2, and with 2 workers bulk once more joining a Ray started
   beforehand (`ray start --head`, as on a cluster). Printed: whole-command seconds, tokens/s of
   the whole command, and tokens/s of tagging alone: tag's own report (model loading left out),
   and for bulk the tokens over its actors' seconds of work (the manifest's) per worker.
3. Ray's fixed costs: seconds to start a local Ray, and what a task costs Ray Data (an actor
   pool of one, 200 tasks that do nothing against one).
4. --brown-check: whether bulk's output for each of Brown's 500 files equals `tagger.tag --file`'s
   for it (in this process, file by file), and how many differ.

Prints the CPU. The ratio bulk/tag with 2 workers is what to read.
"""

import contextlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_busy import cpu_name

from tagger.data import require_nltk
from tagger.errors import ArgumentParser, TaggerError, cli

RAW = ("state_union", "webtext", "abc", "movie_reviews")
TAGGED = re.compile(r"tagged ([\d,]+) tokens in ([\d.]+) s")


def write_corpus(folder, tokens):
    """Brown's 500 files as running text, then raw corpora, repeated, to at least `tokens`
    tokens; returns the files and the token count."""
    for name in ("brown", *RAW):
        require_nltk(f"corpora/{name}", name)
    import nltk.corpus
    from nltk.tokenize.treebank import TreebankWordDetokenizer

    from tagger.text import tokenize

    detokenize, count, files = TreebankWordDetokenizer().detokenize, 0, []
    brown = nltk.corpus.brown
    for fileid in brown.fileids():
        text = "".join(" ".join(detokenize(s) for s in p) + "\n\n" for p in brown.paras(fileid))
        files.append(_write(folder / "brown" / f"{fileid}.txt", text))
        count += sum(len(s) for p in brown.paras(fileid) for s in p)
    round_ = 0
    while count < tokens:
        round_ += 1
        for name in RAW:
            corpus = getattr(nltk.corpus, name)
            for fileid in corpus.fileids()[::5]:
                text = corpus.raw(fileid)
                files.append(_write(folder / f"{name}-{round_}" / f"{fileid}.txt", text))
                count += sum(len(tokenize(line)) for line in text.splitlines())
                if count >= tokens:
                    return files, count
    return files, count


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def join_files(files, folder, size):
    """The files' text in files of at least `size` bytes, each the next files one after another."""
    joined, held = [], []
    for path in files:
        held.append(path.read_text())
        if sum(map(len, held)) >= size or path == files[-1]:
            joined.append(_write(folder / f"part{len(joined):04d}.txt", "".join(held)))
            held = []
    return joined


def timed(command):
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise TaggerError(f"{' '.join(command[:4])} ... failed ({done.returncode}): "
                          f"{done.stderr.strip().splitlines()[-1:]}")
    return seconds, done.stderr


def compare(model, folder, all_file, work, counts):
    """(case, whole seconds, tokens, tagging tokens/s) for tag and bulk with each worker count;
    with 2 workers, bulk also joins a Ray started beforehand (`ray start --head`)."""
    rows = []
    for workers in counts:
        seconds, err = timed([sys.executable, "-m", "tagger.tag", "--model", model, "--file",
                              str(all_file), "--format", "conll", "--workers", str(workers),
                              "--threads", "1", "--timing"])
        tokens, own = TAGGED.search(err).groups()
        tokens = int(tokens.replace(",", ""))
        rows.append((f"tag --workers {workers}", seconds, tokens, tokens / float(own)))
        rows.append(bulk_row(model, folder, work, workers, []))
        if workers == 2:
            ray = str(Path(sys.executable).with_name("ray"))
            subprocess.run([ray, "start", "--head", "--num-cpus", str(os.cpu_count()),
                            "--include-dashboard", "false"], capture_output=True, check=True)
            try:
                rows.append(bulk_row(model, folder, work, workers, ["--address", "auto"]))
            finally:
                subprocess.run([ray, "stop"], capture_output=True)
    return rows


def bulk_row(model, folder, work, workers, extra):
    """bulk's row: its whole seconds, tokens, and the actors' tagging rate (the manifest's)."""
    out = work / f"bulk{workers}"
    shutil.rmtree(out, ignore_errors=True)
    seconds, err = timed([sys.executable, "-m", "tagger.bulk", str(folder), "--out", str(out),
                          "--model", model, "--format", "conll", "--workers", str(workers),
                          *extra])
    manifest = json.loads((out / "manifest.json").read_text())
    tokens, busy = manifest["totals"]["tokens"], manifest["totals"]["seconds"]
    name = f"bulk --workers {workers}" + (" (Ray already running)" if extra else "")
    return name, seconds, tokens, tokens / (busy / workers)


def ray_costs():
    """(seconds to start a local Ray, seconds a task costs Ray Data in an actor pool)."""
    start = time.perf_counter()
    import ray

    ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    start_up = time.perf_counter() - start
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    costs = []
    for tasks in (1, 201):
        items = ray.data.from_items([{"x": k} for k in range(tasks)])
        start = time.perf_counter()
        items.map_batches(Nothing, batch_size=1, compute=ray.data.ActorPoolStrategy(size=1)
                          ).take_all()
        costs.append(time.perf_counter() - start)
    ray.shutdown()
    return start_up, (costs[1] - costs[0]) / 200


class Nothing:
    def __call__(self, batch):
        return batch


def brown_check(model, folder, out):
    """How many of Brown's files bulk tagged otherwise than `tagger.tag --file` does."""
    from tagger import tag

    differ = 0
    for path in sorted((folder / "brown").glob("*.txt")):
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            tag.main(["--model", model, "--file", str(path), "--format", "conll", "--threads", "1"])
        differ += (out / "brown" / (path.name + ".conll")).read_text() != text.getvalue()
    return differ


@cli
def main(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="models/latest", help="model folder to tag with")
    parser.add_argument("--tokens", type=int, default=2_000_000, help="tokens of text, at least")
    parser.add_argument("--file-bytes", type=int, default=0,
                        help="join the files into files of at least this many bytes (default: "
                             "0, keep Brown's 500 files and the raw corpora's as they are)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="worker counts to compare (default: 1 2)")
    parser.add_argument("--brown-check", action="store_true",
                        help="compare bulk's output with tagger.tag's for each Brown file")
    args = parser.parse_args(argv)
    if args.brown_check and args.file_bytes:
        parser.error("--brown-check compares Brown's own 500 files; leave --file-bytes out")
    model = str(Path(args.model).resolve())
    if not (Path(model) / "config.json").is_file():
        raise TaggerError(f"no model in '{args.model}'; train one or pass --model")
    work = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    try:
        folder = work / "in"
        files, tokens = write_corpus(folder, args.tokens)
        if args.file_bytes:
            files = join_files(files, work / "joined", args.file_bytes)
            folder = work / "joined"
        all_file = work / "all.txt"
        with open(all_file, "w") as out:
            for path in files:
                out.write(path.read_text())
        print(f"{cpu_name()}, {os.cpu_count()} cores; {len(files):,} files, {tokens:,} Treebank "
              f"tokens, {all_file.stat().st_size / 1e6:.1f} MB\n")
        rows = compare(model, folder, all_file, work, args.workers)
        print("| command | seconds | tokens | tokens/s, whole command | tokens/s, tagging |")
        print("|---|---|---|---|---|")
        for name, seconds, count, own in rows:
            print(f"| {name} | {seconds:.1f} | {count:,} | {count / seconds:,.0f} | {own:,.0f} |")
        by = {name: (seconds, own) for name, seconds, _, own in rows}
        for name, (seconds, own) in by.items():
            if name.startswith("bulk"):
                tag_s, tag_own = by["tag --workers " + name.split()[2]]
                print(f"{name} / tag: whole commands {tag_s / seconds:.2f}, tagging "
                      f"{own / tag_own:.2f}")
        start_up, per_task = ray_costs()
        print(f"\nRay: a local start takes {start_up:.1f} s; a task in an actor pool "
              f"{per_task * 1000:.1f} ms")
        if args.brown_check:
            differ = brown_check(model, folder, work / "bulk2")
            print(f"Brown: {differ} of 500 files differ between bulk and tagger.tag --file")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
