#!/usr/bin/env python
"""Large-file tagging speed: `python -m tagger.tag` on 1M+ tokens of Brown, with 1 and 2 workers.

    python scripts/bench_tag_large.py [--model models/latest] [--workers 1 2] [--copies 1]

Needs a trained model folder, such as the one `python -m tagger.train --corpus brown --out
models/brown` (or plain `python -m tagger.train`, for models/latest) makes, and NLTK's Brown corpus.

1. Writes Brown's sentences (nltk.corpus.brown.sents(), 1,161,192 tokens), one a line of tokens
   separated by spaces, --copies times over, to --out/brown.txt (a scratch folder, not committed).
2. Tags it with `python -m tagger.tag --tokenized --format conll --timing --workers W` in a
   subprocess for each W, output to --out/tagged-W.conll, and prints a table: tokens/s of tagging
   with start-up (model loading; with workers, their start: imports and loading) measured apart,
   the whole run's wall-clock time (interpreter start included), and peak memory: the
   main process's and, with workers, the largest worker's (each process's own peak RSS; the
   whole run's peak is at most main + W x worker).
3. Checks that every W wrote the same output, byte for byte.
"""

import filecmp
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tagger.data import require_nltk
from tagger.errors import ArgumentParser, TaggerError, cli

TIMING = re.compile(r"ready in (?P<load>[\d.]+) s \([^)]*\); tagged (?P<tokens>[\d,]+) tokens in "
                    r"(?P<seconds>[\d.]+) s, (?P<rate>[\d,]+) tokens/s; peak RSS (?P<main>[\d,]+) "
                    r"MiB(?: \(main process\), (?P<worker>[\d,]+) MiB \(largest worker\))?")


def write_brown(path, copies):
    require_nltk("corpora/brown", "brown")
    from nltk.corpus import brown

    tokens = 0
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(copies):
            for sentence in brown.sents():
                f.write(" ".join(sentence) + "\n")
                tokens += len(sentence)
    return tokens


def tag_file(model, text, out, workers, threads):
    """Run the command once: its timing line's figures, the wall-clock seconds of the whole
    process (interpreter start and imports included) and its threads per process."""
    command = [sys.executable, "-m", "tagger.tag", "--model", model, "--device", "cpu",
               "--tokenized", "--format", "conll", "--timing", "--file", str(text),
               "--workers", str(workers)] + (["--threads", str(threads)] if threads else [])
    with open(out, "wb") as stdout:
        start = time.perf_counter()
        process = subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE)
        wall = time.perf_counter() - start
    stderr = process.stderr.decode()
    timing = TIMING.search(stderr)
    if process.returncode or not timing:
        sys.exit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr}")
    figures = {key: float(value.replace(",", "")) if value else None
               for key, value in timing.groupdict().items()}
    threads_each = re.search(r"of (\d+) threads?", stderr).group(1)
    return figures, wall, threads_each


@cli
def main(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="models/latest", help="model folder to tag with")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=0,
                        help="--threads for tagger.tag (0: its default, cores / workers)")
    parser.add_argument("--copies", type=int, default=1, help="Brown's text this many times over")
    parser.add_argument("--out", default="reports/bench_tag_large", help="scratch folder")
    args = parser.parse_args(argv)
    if not (Path(args.model) / "config.json").is_file():
        raise TaggerError(f"no model in '{args.model}'; make one with: python -m tagger.train "
                          f"--corpus brown --out {args.model} (or pass --model)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = out / "brown.txt"
    tokens = write_brown(text, args.copies)
    print(f"{text}: {tokens:,} tokens, {text.stat().st_size / 2**20:.1f} MiB; model {args.model}; "
          f"{len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.2f} at start")

    print("\n| workers | threads each | tokens/s | tagging s | start-up s | wall s "
          "| peak RSS main MiB | peak RSS per worker MiB |")
    print("|---|---|---|---|---|---|---|---|")
    outputs = []
    for workers in args.workers:
        tagged = out / f"tagged-{workers}.conll"
        timing, wall, threads = tag_file(args.model, text, tagged, workers, args.threads)
        assert timing["tokens"] == tokens, (timing["tokens"], tokens)
        worker = f"{timing['worker']:,.0f}" if timing["worker"] else "-"
        print(f"| {workers} | {threads} | {timing['rate']:,.0f} | {timing['seconds']:.1f} "
              f"| {timing['load']:.2f} | {wall:.1f} | {timing['main']:,.0f} | {worker} |",
              flush=True)
        outputs.append(tagged)
    same = all(filecmp.cmp(outputs[0], other, shallow=False) for other in outputs[1:])
    print(f"\noutputs identical across worker counts: {'yes' if same else 'NO'}; "
          f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
