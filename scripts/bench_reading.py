#!/usr/bin/env python
"""What reading running text costs: sentence splitting, tokens with spans, against the reading of
another checkout (say, the commit before, in a `git worktree`), in one run.

    python scripts/bench_reading.py --model models/latest --code ../before [--tokens 200000]

Two files are made from Brown (its sentences detokenized, as running text): one sentence a line,
and paragraphs (Brown's own) of sentences run together, a blank line after each.

1. Reading alone, in this process: characters and tokens per second of this checkout's reading
   (tagger.sentences.read) by lines and by sentences, next to the bare Penn Treebank rules
   (tagger.text.tokenize, one line at a time), the floor of any reading.
2. The whole command, `python -m tagger.tag --threads 1 --timing --format conll` as a user runs
   it, from this checkout and from --code, alternating, --repeat times: the tokens/s the command
   reports (the model's loading left out), fastest run. Cases: the one-a-line file `--tokenized`,
   the same by lines (--code reads it so by default; this checkout with `--split lines`), and this
   checkout splitting it into sentences; then the paragraph file, split into sentences.

Prints the CPU; the ratio this/--code is what to read for the cost of the new reading.
"""

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_busy import cpu_name

from tagger import sentences, text
from tagger.data import require_nltk
from tagger.errors import ArgumentParser, TaggerError, cli

HERE = Path(__file__).resolve().parent.parent
TIMING = re.compile(r"tagged ([\d,]+) tokens in [\d.]+ s, ([\d,]+) tokens/s")


def write_inputs(folder, tokens):
    """(one-sentence-a-line file, paragraphs file) of Brown's running text, and its tokens."""
    require_nltk("corpora/brown", "brown")
    from nltk.corpus import brown
    from nltk.tokenize.treebank import TreebankWordDetokenizer

    detokenize = TreebankWordDetokenizer().detokenize
    paragraphs, count = [], 0
    for paragraph in brown.paras():
        paragraphs.append([detokenize(s).replace("``", '"').replace("''", '"') for s in paragraph])
        count += sum(len(s) for s in paragraph)
        if count >= tokens:
            break
    lines, paras = Path(folder) / "lines.txt", Path(folder) / "paragraphs.txt"
    lines.write_text("".join(s + "\n" for p in paragraphs for s in p))
    paras.write_text("".join(" ".join(p) + "\n\n" for p in paragraphs))
    return lines, paras


def reading_rows(lines, paras):
    """Reading alone: (name, chars/s, tokens/s), best of 3."""
    line_text, para_text = lines.read_text(), paras.read_text()
    cases = [
        ("Penn rules alone, a line at a time (text.tokenize)",
         line_text, lambda: [text.tokenize(line) for line in line_text.splitlines()]),
        ("by lines, with spans (sentences.read, split=lines)",
         line_text, lambda: sentences.read_text(line_text, "lines")),
        ("by sentences, the one-a-line file (split=sentences)",
         line_text, lambda: sentences.read_text(line_text)),
        ("by sentences, the paragraph file", para_text, lambda: sentences.read_text(para_text)),
    ]
    rows = []
    for name, source, read in cases:
        best, found = float("inf"), None
        for _ in range(3):
            start = time.perf_counter()
            found = read()
            best = min(best, time.perf_counter() - start)
        count = sum(len(s.tokens) if hasattr(s, "tokens") else len(s) for s in found)
        rows.append((name, len(source) / best, count / best))
    return rows


def command_speed(code, model, args):
    """tokens/s that `python -m tagger.tag --timing` reports, run from checkout `code`."""
    command = [sys.executable, "-m", "tagger.tag", "--model", model, "--threads", "1",
               "--device", "cpu", "--timing", "--format", "conll", *args]
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=code)
    found = TIMING.search(done.stderr)
    if done.returncode or not found:
        raise TaggerError(f"{' '.join(command)} failed ({done.returncode}): "
                          f"{done.stderr.strip().splitlines()[-1:]}")
    return int(found.group(2).replace(",", "")), int(found.group(1).replace(",", ""))


def command_rows(code, model, lines, paras, repeat):
    """(case, tokens/s from --code, from here), fastest of `repeat` alternating runs."""
    cases = [
        ("one a line, --tokenized", ["--tokenized", "--file", str(lines)],
         ["--tokenized", "--file", str(lines)]),
        ("one a line, by lines", ["--file", str(lines)], ["--split", "lines", "--file", str(lines)]),
        ("one a line, split into sentences", None, ["--file", str(lines)]),
        ("paragraphs, split into sentences", None, ["--file", str(paras)]),
    ]
    rows = []
    for name, before_args, here_args in cases:
        before, here = [], []
        for _ in range(repeat):
            if before_args is not None:
                before.append(command_speed(code, model, before_args))
            here.append(command_speed(HERE, model, here_args))
        rows.append((name, max(before) if before else None, max(here)))
    return rows


@cli
def main(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="models/latest", help="model folder to tag with")
    parser.add_argument("--code", required=True, help="the other checkout of tagger to compare with")
    parser.add_argument("--tokens", type=int, default=200_000, help="Brown tokens in each file")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command")
    args = parser.parse_args(argv)
    model, code = str(Path(args.model).resolve()), Path(args.code).resolve()
    if not (Path(model) / "config.json").is_file():
        raise TaggerError(f"no model in '{args.model}'; train one or pass --model")
    with tempfile.TemporaryDirectory() as work:
        lines, paras = write_inputs(work, args.tokens)
        print(f"{cpu_name()}; one thread; {args.tokens:,}+ Brown tokens; --code {code}\n")
        print("| reading alone (this checkout) | characters/s | tokens/s |\n|---|---|---|")
        for name, chars, tokens in reading_rows(lines, paras):
            print(f"| {name} | {chars:,.0f} | {tokens:,.0f} |")
        print(f"\n| python -m tagger.tag, tokens/s (best of {args.repeat}) | --code | this | "
              "this / --code |\n|---|---|---|---|")
        for name, before, here in command_rows(code, model, lines, paras, args.repeat):
            ratio = f"{here[0] / before[0]:.3f}" if before else ""
            print(f"| {name} ({here[1]:,} tokens) | {f'{before[0]:,}' if before else 'n/a'} | "
                  f"{here[0]:,} | {ratio} |")


if __name__ == "__main__":
    main()
