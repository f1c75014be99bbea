#!/usr/bin/env python
"""Tagging speed against NLTK's averaged perceptron trained on the same data, on the same text,
in one run: one thread and all cores, tokens/s and peak memory, and the limit that the model's
arithmetic and the machine's matrix-product rate set.

    python scripts/bench_tag.py [--model models/latest] [--text masc|brown|FILE] [--tokens 200000]
                                [--iterations 5] [--repeat 3] [--perceptron FILE] [--profile]

1. The text: --tokens tokens of pre-tokenized English, one sentence a line: MASC's dev half
   (everyday written English; read here for timing only, never for training), Brown, or a file
   of your own with one sentence a line, tokens separated by spaces.
2. The perceptron: `nltk.tag.perceptron.PerceptronTagger` trained for --iterations on the
   model's own training corpus (its config's corpus, as tagger.train reads it; Brown's tag sets
   resolved as scripts/eval_english.py does), saved to a scratch folder, or one saved before
   (--perceptron, a pickle this script wrote).
3. Each tagger in subprocesses, alternating, --repeat times; the fastest run counts. Ours is
   `python -m tagger.tag --tokenized --format conll --timing` (its own report: model loading
   left out, reading and writing in); the perceptron reads the same file, tags each sentence's
   treebank forms (as ours reads them) with `tag_sents`, and writes the same CoNLL, its loading
   left out too. One thread: ours with --threads 1. All cores: ours with --workers N --threads 1
   and with --threads N in one process; the perceptron (pure Python, one core each) as N
   processes on N shards of the text at once, its speed the tokens over the slowest's time.
   Peak memory: each process's peak RSS (for N processes, the largest).
4. With --profile: where one thread's time goes when PosTagger.predict tags the text (the
   model's own path, reading and writing apart): torch.profiler's ten ops of most self time.
5. The limit: the model's multiply-adds per token, counted from its sizes (every LSTM product as
   if made per token, the character encoder's once per distinct form of the text, as the form
   cache makes it), against `torch.mm`'s rate on this machine.
"""

import os
import pickle
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from bench_busy import cpu_name
from bench_tag_large import TIMING

from tagger.errors import ArgumentParser, TaggerError, cli
from tagger.tag import _peak_rss_mib

HERE = Path(__file__).resolve().parent


def write_text(source, tokens, path):
    """The first `tokens` tokens of the source, a sentence a line; -> (tokens, distinct forms)."""
    if source == "masc":
        from tagger.data import masc_dev

        sentences = [[w for w, _ in s] for genre in masc_dev().values() for s in genre]
    elif source == "brown":
        from tagger.data import require_nltk

        require_nltk("corpora/brown", "brown")
        from nltk.corpus import brown

        sentences = brown.sents()
    elif Path(source).is_file():
        sentences = [line.split() for line in Path(source).read_text().splitlines()]
    else:
        raise TaggerError(f"--text '{source}' is neither masc, brown nor a file")
    written, forms = 0, set()
    with open(path, "w") as f:
        for sentence in sentences:
            sentence = [w for w in sentence if w.strip() and not any(c.isspace() for c in w)]
            if not sentence:
                continue
            f.write(" ".join(sentence) + "\n")
            written += len(sentence)
            forms.update(sentence)
            if written >= tokens:
                break
    return written, forms


def train_perceptron(model, iterations, path):
    """NLTK's perceptron trained on the model's training corpus, pickled to `path`."""
    from eval_english import resolve_sets
    from nltk.tag.perceptron import PerceptronTagger

    from tagger import data, storage

    config = storage.load(model, "cpu")[2]
    splits = data.load_corpus(config)
    train = resolve_sets(splits.train + splits.more)
    random.seed(1)  # it shuffles the sentences with `random` between iterations
    tagger = PerceptronTagger(load=False)
    start = time.perf_counter()
    tagger.train(train, nr_iter=iterations)
    print(f"perceptron: trained on {splits.name} ({sum(map(len, train)):,} tokens), {iterations} "
          f"iterations, in {time.perf_counter() - start:.0f} s")
    with open(path, "wb") as f:
        pickle.dump(tagger, f)


def perceptron_worker(pickled, text, out):
    """Child mode: tag `text` with the pickled perceptron into `out` as CoNLL; prints its tokens,
    seconds (loading left out) and peak RSS in MiB."""
    from tagger.text import treebank_forms

    with open(pickled, "rb") as f:
        tagger = pickle.load(f)
    start = time.perf_counter()
    tokens = 0
    with open(text) as f, open(out, "w") as w:
        sentences = [line.split() for line in f]
        for k in range(0, len(sentences), 1000):
            part = sentences[k : k + 1000]
            tagged = tagger.tag_sents([treebank_forms(s) for s in part])
            for words, pairs in zip(part, tagged):
                w.write("".join(f"{word}\t{tag}\n" for word, (_, tag) in zip(words, pairs)) + "\n")
                tokens += len(words)
    seconds = time.perf_counter() - start
    print(tokens, seconds, _peak_rss_mib(resource.RUSAGE_SELF))  # as tagger.tag measures it


def run_perceptron(pickled, shards, work):
    """The perceptron on each shard at once, one process each: (tokens/s, peak RSS MiB)."""
    processes = [subprocess.Popen([sys.executable, __file__, "--perceptron-worker", str(pickled),
                                   str(shard), str(work / f"perceptron-{k}.conll")],
                                  stdout=subprocess.PIPE, text=True)
                 for k, shard in enumerate(shards)]
    results = []
    for p in processes:
        out, _ = p.communicate()
        if p.returncode:
            sys.exit(f"the perceptron worker failed ({p.returncode})")
        tokens, seconds, rss = out.split()
        results.append((int(tokens), float(seconds), float(rss)))
    return (sum(t for t, _, _ in results) / max(s for _, s, _ in results),
            max(r for _, _, r in results))


def run_ours(model, text, out, flags):
    """`python -m tagger.tag` over the text: (tokens/s, peak RSS MiB of its largest process)."""
    command = [sys.executable, "-m", "tagger.tag", "--model", model, "--tokenized", "--format",
               "conll", "--timing", "--file", str(text), *flags]
    with open(out, "w") as f:
        done = subprocess.run(command, stdout=f, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    match = TIMING.search(done.stderr)
    rss = max(float((match["worker"] or "0").replace(",", "")),
              float(match["main"].replace(",", "")))
    products = done.stderr.rsplit("products: ", 1)[-1] if "products: " in done.stderr else \
        "not reported"
    return float(match["rate"].replace(",", "")), rss, products


def macs_per_token(model, tokens, forms):
    """Multiply-adds per token of the model: every LSTM product as if made per token, the output
    layer, and the character encoder once per distinct form of the text."""
    from tagger import storage
    from tagger.text import treebank_forms

    network, vocab, config, _ = storage.load(model, "cpu")
    D, H = 2 if config.bidirectional else 1, config.hidden_size
    size = network.lstm.input_size
    word = 0
    for layer in range(config.num_layers):
        word += D * 4 * H * ((size if layer == 0 else D * H) + H)
    head = D * H * len(vocab.tags)
    C, E = config.char_hidden_size, config.char_embedding_size
    letters = sum(len(treebank_forms([form])[0]) for form in forms)
    chars = 2 * 4 * C * (E + C) * letters / tokens
    lm = 0
    if network.pretrained is not None and network.pretrained.lstm is not None:
        P = network.pretrained.lstm.hidden_size
        lm = 2 * 4 * P * (network.pretrained.vectors.embedding_dim + P)
    return word + head + chars + lm, {"sentence LSTM": word, "output layer": head,
                                      "character LSTM": chars, "language models": lm}


def mm_rate(threads):
    """torch.mm's multiply-adds per second on a product the size of a batch's (8192 x 256 x 1024)."""
    torch.set_num_threads(threads)
    a, b = torch.randn(8192, 256), torch.randn(256, 1024)
    for _ in range(3):
        torch.mm(a, b)
    best = float("inf")
    for _ in range(10):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 8192 * 256 * 1024 / best


def profile(model, text):
    """torch.profiler's top ten ops by self CPU time while PosTagger.predict tags the text, on
    one thread, with a fresh tagger (as the command starts)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as profiler

    from tagger.tag import PosTagger

    torch.set_num_threads(1)
    sentences = [line.split() for line in Path(text).read_text().splitlines()]
    PosTagger.load(model, "cpu").predict(sentences[:200])  # torch's own first-call costs
    tagger = PosTagger.load(model, "cpu")
    with profiler(activities=[ProfilerActivity.CPU]) as p:
        start = time.perf_counter()
        tagger.predict(sentences)
        seconds = time.perf_counter() - start
    tokens = sum(map(len, sentences))
    print(f"profile: PosTagger.predict, 1 thread, {tokens / seconds:,.0f} tokens/s under the "
          "profiler")
    print(p.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))


def shard(text, parts, work):
    """The text's lines in `parts` files of about as many lines each."""
    lines = Path(text).read_text().splitlines(keepends=True)
    paths = [work / f"shard-{k}.txt" for k in range(parts)]
    for k, path in enumerate(paths):
        path.write_text("".join(lines[k::parts]))
    return paths


def parse_args(argv):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="models/latest")
    parser.add_argument("--text", default="masc", help="masc, brown, or a file of one sentence "
                                                       "a line, tokens separated by spaces")
    parser.add_argument("--tokens", type=int, default=200_000)
    parser.add_argument("--iterations", type=int, default=5, help="the perceptron's training "
                                                                  "iterations (NLTK's default: 5)")
    parser.add_argument("--perceptron", help="a perceptron this script pickled before")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--profile", action="store_true",
                        help="also print torch.profiler's top ten ops of PosTagger.predict")
    args = parser.parse_args(argv)
    parser.require_at_least(args, tokens=1, iterations=1, repeat=1, cores=1)
    return args


@cli
def main(argv=None):
    if argv is None and sys.argv[1:2] == ["--perceptron-worker"]:
        return perceptron_worker(*sys.argv[2:5])
    args = parse_args(argv)
    from tagger import storage

    storage.load(args.model, "cpu")  # a missing or damaged model: one line, before any work
    work = Path(tempfile.mkdtemp(prefix="bench-tag-"))
    text = work / "text.txt"
    tokens, forms = write_text(args.text, args.tokens, text)
    print(f"{cpu_name()}; torch {torch.__version__}; {args.cores} cores; text: {args.text}, "
          f"{tokens:,} tokens, {len(forms):,} distinct")
    pickled = args.perceptron or work / "perceptron.pickle"
    print(f"scratch folder: {work} (the perceptron, for --perceptron: {pickled})")
    if not args.perceptron:
        train_perceptron(args.model, args.iterations, pickled)
    shards = shard(text, args.cores, work)
    cases = {"1 thread": ([text], ["--threads", "1"])}
    if args.cores > 1:
        # Windows of 1,000 lines, so that the workers share even a short text.
        cases[f"{args.cores} cores"] = (shards, ["--workers", str(args.cores), "--threads", "1",
                                                 "--window", "1000"])
        cases[f"{args.cores} threads, 1 process"] = (None, ["--threads", str(args.cores)])
    print(f"| case | ours tokens/s | perceptron tokens/s | ours/perceptron | ours peak RSS MiB "
          f"| perceptron peak RSS MiB |\n|---|---|---|---|---|---|")
    for name, (parts, flags) in cases.items():
        ours, theirs = [], []
        for _ in range(args.repeat):
            ours.append(run_ours(args.model, text, work / "ours.conll", flags))
            if parts is not None:
                theirs.append(run_perceptron(pickled, parts, work))
        rate, rss, products = max(ours)
        if theirs:
            other, other_rss = max(theirs)
            print(f"| {name} | {rate:,.0f} | {other:,.0f} | {rate / other:.2f} | {rss:,.0f} | "
                  f"{other_rss:,.0f} |")
        else:
            print(f"| {name} | {rate:,.0f} | | | {rss:,.0f} | |")
    print(f"products: {products.strip()}")
    macs, parts = macs_per_token(args.model, tokens, forms)
    print("multiply-adds per token: " + ", ".join(f"{k} {v:,.0f}" for k, v in parts.items())
          + f"; {macs:,.0f} in all")
    for threads in sorted({1, args.cores}):
        rate = mm_rate(threads)
        print(f"torch.mm, {threads} thread{'s' * (threads > 1)}: {2 * rate / 1e9:.0f} GFLOP/s, so "
              f"at most {rate / macs:,.0f} tokens/s if every product ran at that rate")
    if args.profile:
        profile(args.model, text)


if __name__ == "__main__":
    sys.exit(main())
