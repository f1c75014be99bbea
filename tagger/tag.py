"""Tag text with a trained model: the `PosTagger` class and `python -m tagger.tag`.

    python -m tagger.tag "The dog ate the apple"        ->  The/DT dog/NN ate/VBD the/DT apple/NN
    python -m tagger.tag --file text.txt --format conll
    echo "Everybody read that book" | python -m tagger.tag
    python -m tagger.tag --file big.txt --format conll --workers 2 > big.conll

Input streams through in windows of lines (`--window`, and at most WINDOW_CHARS characters), each
tagged in length-sorted batches and written, in input order, before the next is read, so memory
stays bounded whatever the size of the input. `--workers N` tags the windows in N processes, each
with its own copy of the model, and writes them in input order as well.

`PosTagger` follows NLTK's tagger interface (`tag`, `tag_sents`, `accuracy`), so it can stand in
for `nltk.tag.PerceptronTagger` in code written for NLTK.

Several models make an ensemble (`--model A --model B`, `PosTagger.load([A, B])`): each token gets
the tag with the highest probability averaged over the models, which errs less than any one of them
where they disagree, as on words none of them saw in training.
"""

import io
import json
import multiprocessing
import os
import resource
import signal
import sys
import time
import traceback
from collections import deque

from tagger import text
from tagger.config import resolve_device
from tagger.errors import ArgumentParser, TaggerError, cli

# torch, and the modules of this package that need it, are imported where they are used: `--help`
# and a mistyped flag then answer at once instead of after the seconds torch takes to load.

# Sentences are batched by tokens, not by count, so a 10,000-token sentence and a million short
# ones both keep memory bounded.
TOKENS_PER_BATCH = 4096

# Longer "sentences" (a whole document on one line) are tagged in pieces of at most this many
# tokens, cut after a sentence-final token where there is one: memory then stays within the token
# budget, and many pieces share a batch where one long sequence would run step by step. No real
# sentence comes near this length, so tags change only for text that was not a sentence.
MAX_SENTENCE_TOKENS = 1000
SENTENCE_ENDS = {".", "!", "?"}

# The command line reads its input a window of lines at a time: at most WINDOW_LINES lines (the
# --window default), and no more lines once WINDOW_CHARS characters are in (a single line is read
# whole). Long lines thus do not multiply the memory a window takes, while windows of ordinary
# text stay large enough for well-filled, length-sorted batches.
WINDOW_LINES = 10_000
WINDOW_CHARS = 4_000_000

# With --workers N, at most this many windows per worker are read ahead of the one being written.
WINDOWS_AHEAD = 2


class PosTagger:
    """A trained model, or an ensemble of them; `model`, `vocab` and `config` are the first one's
    (its vocabulary decides which words count as unknown)."""

    def __init__(self, model, vocab, config, device="cpu"):
        import torch

        self.model, self.vocab, self.config = model.eval(), vocab, config
        self.device = torch.device(device)
        self.members = [(self.model, vocab)]

    @classmethod
    def load(cls, folder="models/latest", device="auto"):
        """The model saved in `folder`, or the ensemble of those in a list of folders."""
        from tagger import storage

        folders = [folder] if isinstance(folder, (str, os.PathLike)) else list(folder)
        if not folders:
            raise ValueError("PosTagger.load needs at least one model folder")
        device = resolve_device(device)
        (model, vocab, config, _), *others = [storage.load(f, device) for f in folders]
        tagger = cls(model, vocab, config, device)
        for other, (model, vocab, _, _) in zip(folders[1:], others):
            if vocab.tags != tagger.vocab.tags:
                raise TaggerError(f"model '{other}' predicts other tags than '{folders[0]}' "
                                  f"({len(vocab.tags)} vs {len(tagger.vocab.tags)}, or in another "
                                  "order); an ensemble needs models trained on the same corpus")
            tagger.members.append((model.eval(), vocab))
        return tagger

    def predict(self, sentences):
        """Tags only: one list of tags per sentence of tokens."""
        return [tags for tags, _ in self.predict_scored(sentences)]

    def predict_scored(self, sentences):
        """(tags, probabilities) per sentence of tokens: each token's best tag, and the probability
        the model gives it (for an ensemble, the mean over its models)."""
        pieces, owners = [], []
        for k, sentence in enumerate(sentences):
            for piece in split_long(sentence):
                pieces.append(piece)
                owners.append(k)
        scored = [([], []) for _ in sentences]
        for k, (tags, probabilities) in zip(owners, self._predict_pieces(pieces)):
            scored[k][0].extend(tags)
            scored[k][1].extend(probabilities)
        return scored

    def _predict_pieces(self, sentences):
        order = sorted(range(len(sentences)), key=lambda k: len(sentences[k]))
        scored = [([], []) for _ in sentences]
        batch, size = [], 0
        for k in order + [None]:  # None flushes the last batch
            n = len(sentences[k]) if k is not None else 0
            if batch and (k is None or (size + n) > TOKENS_PER_BATCH):
                for j, t in zip(batch, self._predict_batch([sentences[j] for j in batch])):
                    scored[j] = t
                batch, size = [], 0
            if k is not None and n:
                batch.append(k)
                size += n
        return scored

    def _predict_batch(self, sentences):
        import torch

        with torch.inference_mode():
            if len(self.members) == 1:
                log_probs = self.model(self.vocab.batch(sentences).to(self.device))  # (B, T, num_tags)
                probs, best = log_probs.max(-1)  # (B, T) each
                probs = probs.exp()
            else:  # each member reads the sentences through its own vocabulary
                mean = sum(model(vocab.batch(sentences).to(self.device)).exp()
                           for model, vocab in self.members) / len(self.members)  # (B, T, num_tags)
                probs, best = mean.max(-1)
            probs, best = probs.cpu(), best.cpu()
        return [(self.vocab.decode_tags(row[: len(s)].tolist()), p[: len(s)].tolist())
                for row, p, s in zip(best, probs, sentences)]

    def tag(self, tokens):
        """[(token, tag), ...] for one tokenized sentence, as nltk.tag.TaggerI.tag."""
        return self.tag_sents([tokens])[0]

    def tag_sents(self, sentences):
        # Read once: NLTK code passes generators (TaggerI.accuracy does), which a second pass
        # would find empty.
        sentences = [list(s) for s in sentences]
        return [list(zip(s, t)) for s, t in zip(sentences, self.predict(sentences))]

    def scores(self, gold):
        """Accuracy, known/unknown-word accuracy and per-tag scores on tagged sentences."""
        from tagger.evaluate import evaluate  # scikit-learn and matplotlib: slow to import for the CLI

        predicted = self.predict([[w for w, _ in s] for s in gold])
        return evaluate(gold, predicted, self.vocab.is_known)

    def accuracy(self, gold):
        """Token accuracy on tagged sentences, as nltk.tag.TaggerI.accuracy."""
        return self.scores(gold)["accuracy"]

    def evaluate(self, gold):
        """The same as `accuracy`, as nltk.tag.TaggerI.evaluate (which NLTK deprecates for it)."""
        return self.accuracy(gold)


def split_long(tokens, limit=MAX_SENTENCE_TOKENS):
    """The tokens in pieces of at most `limit`, each cut after its last sentence-final token where
    that keeps it over half the limit; a sentence within the limit is its own one piece."""
    pieces, start = [], 0
    while len(tokens) - start > limit:
        end = start + limit
        for cut in range(end, start + limit // 2, -1):
            if tokens[cut - 1] in SENTENCE_ENDS:
                end = cut
                break
        pieces.append(tokens[start:end])
        start = end
    pieces.append(tokens[start:])
    return pieces


def tokenize(line, tokenized=False):
    """Penn Treebank tokens, as in the training data (tagger.text.tokenize), or the tokens as given."""
    return line.split() if tokenized else text.tokenize(line)


def format_sentence(tagged, fmt):
    if fmt == "conll":
        return "".join(f"{w}\t{t}\n" for w, t in tagged)  # the blank line comes from print
    if fmt == "json":
        return json.dumps({"tokens": [w for w, _ in tagged], "tags": [t for _, t in tagged]},
                          ensure_ascii=False)
    return " ".join(f"{w}/{t}" for w, t in tagged)


def _lines(args):
    # Lines end at "\n" only (a stray "\r" inside a line would otherwise add an
    # output line that matches no input line), and bytes that are not UTF-8 read as U+FFFD,
    # wherever the text comes from: a stray byte must not end a long run with a traceback.
    if args.text:
        for line in args.text:  # undecodable bytes reach sys.argv as lone surrogates
            yield line.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    elif args.file:
        try:
            with open(args.file, encoding="utf-8", errors="replace", newline="\n") as f:
                yield from f
        except FileNotFoundError:
            raise TaggerError(f"input file '{args.file}' not found") from None
    else:
        if sys.stdin.isatty():
            raise TaggerError("nothing to tag: give a sentence, --file FILE, or pipe text in")
        sys.stdin.reconfigure(encoding="utf-8", errors="replace", newline="\n")
        yield from sys.stdin


def _windows(lines, size=WINDOW_LINES, chars=WINDOW_CHARS):
    """Lists of consecutive lines: at most `size` lines each, and no line added once a list holds
    `chars` characters. Lazy: a window is handed on as soon as it is full."""
    window, held = [], 0
    for line in lines:
        window.append(line)
        held += len(line)
        if len(window) == size or held >= chars:
            yield window
            window, held = [], 0
    if window:
        yield window


def tag_window(tagger, lines, tokenized, fmt):
    """The output for a window of input lines, one output line (or CoNLL block) per input line,
    and the number of tokens tagged."""
    tagged = tagger.tag_sents(tokenize(line, tokenized) for line in lines)
    return "".join(format_sentence(s, fmt) + "\n" for s in tagged), sum(len(s) for s in tagged)


# --- worker processes (--workers N) ------------------------------------------------------------

_worker_tagger = None


def _start_worker(model, device, threads, started):
    """Pool initializer: load the model once for all the windows this process tags, and say on
    `started` whether that worked: None, or ("error", message) for the user's error (a bad model
    folder), or ("bug", traceback). An initializer that raised would be restarted forever."""
    global _worker_tagger
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    try:
        import torch

        torch.set_num_threads(threads)
        _worker_tagger = PosTagger.load(model, device)
        started.put(None)
    except TaggerError as e:
        started.put(("error", str(e)))
    except Exception:
        started.put(("bug", traceback.format_exc()))


def _work(lines, tokenized, fmt):
    return tag_window(_worker_tagger, lines, tokenized, fmt)


def _tag_in_workers(args, windows, threads, write):
    """Tag the windows in a pool of `args.workers` processes, writing each window's output in input
    order; at most WINDOWS_AHEAD windows per worker are held at once. Returns the tokens tagged and
    the time (perf_counter) by which every worker had loaded the model."""
    # spawn, not fork: a forked copy of a process that has run torch's thread pool can hang.
    context = multiprocessing.get_context("spawn")
    started = context.SimpleQueue()
    with context.Pool(args.workers, _start_worker,
                      (args.model, args.device, threads, started)) as pool:
        for _ in range(args.workers):
            message = started.get()
            if message is not None:
                kind, text = message
                if kind == "error":
                    raise TaggerError(text)
                raise RuntimeError(f"a tagging worker failed to start:\n{text}")
        ready = time.perf_counter()
        pending, tokens = deque(), 0
        for window in windows:
            pending.append(pool.apply_async(_work, (window, args.tokenized, args.format)))
            while len(pending) >= WINDOWS_AHEAD * args.workers or (pending and pending[0].ready()):
                tokens += write(*_oldest_result(pending, started))
        while pending:
            tokens += write(*_oldest_result(pending, started))
        pool.close()
        pool.join()
    return tokens, ready


def _oldest_result(pending, started):
    # A worker that dies (killed, out of memory) takes its window with it, and the pool starts
    # another in its place, which says so on `started`: waiting on would then never end.
    while not pending[0].ready():
        pending[0].wait(1)
        if not started.empty():
            raise TaggerError("a tagging worker process ended abruptly (killed, or out of "
                              "memory?); try fewer --workers or a smaller --window")
    return pending.popleft().get()


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _peak_rss_mib(who):
    # ru_maxrss is in KiB on Linux (bytes on macOS, where this figure reads 1,024 times too large).
    return resource.getrusage(who).ru_maxrss / 1024


def _report_timing(workers, threads, start_up, seconds, tokens):
    """--timing's one line on stderr. Peak memory is each process's own: RUSAGE_CHILDREN gives the
    largest of the workers (ended and waited for by now), not their sum."""
    each = f"{threads} thread{'s' * (threads > 1)}"
    who = f"{workers} workers of {each} each" if workers > 1 else f"1 process of {each}"
    started = "model loading" + (", worker start-up" if workers > 1 else "")
    memory = f"peak RSS {_peak_rss_mib(resource.RUSAGE_SELF):,.0f} MiB"
    if workers > 1:
        memory += (f" (main process), {_peak_rss_mib(resource.RUSAGE_CHILDREN):,.0f} MiB "
                   "(largest worker)")
    print(f"timing: {who}; ready in {start_up:.2f} s ({started}); tagged {tokens:,} tokens in "
          f"{seconds:.2f} s, {tokens / max(seconds, 1e-9):,.0f} tokens/s; {memory}",
          file=sys.stderr)


@cli
def main(argv=None):
    parser = ArgumentParser(prog="python -m tagger.tag", description=__doc__.split("\n")[0])
    parser.add_argument("text", nargs="*", help="sentences to tag (default: --file or stdin, one a line)")
    parser.add_argument("--file", help="read sentences from this file, one a line")
    parser.add_argument("--model", action="append",
                        help="model folder (default: models/latest); give it again for an "
                             "ensemble, which averages the models' tag probabilities")
    parser.add_argument("--tokenized", action="store_true",
                        help="input is already tokens separated by whitespace")
    parser.add_argument("--format", choices=("text", "conll", "json"), default="text")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--workers", type=int, default=1,
                        help="tag in this many processes, each loading the model (default: 1)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads per process (default: torch's default with one "
                             "worker, else cores / workers)")
    parser.add_argument("--window", type=int, default=WINDOW_LINES,
                        help=f"lines read, tagged and written at a time (default: {WINDOW_LINES:,}); "
                             "1 answers each line of a pipe as it comes")
    parser.add_argument("--timing", action="store_true",
                        help="report load time, tokens/s and peak memory on stderr at the end")
    args = parser.parse_args(argv)
    args.model = args.model or ["models/latest"]
    # oneDNN keeps the kernels it compiles for every shape of product it meets, up to 1,024 of
    # them; the batches of a long input come in hundreds of shapes, and that cache took some
    # 450 MB more on 1.2M tokens of Brown without making tagging any faster. Read at oneDNN's first use (workers
    # inherit it); the user's own setting wins.
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "32")
    parser.require_at_least(args, workers=1, threads=0, window=1)
    start = time.perf_counter()
    threads = args.threads or (max(1, _cores() // args.workers) if args.workers > 1 else 0)
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper):  # not when a caller has put a StringIO there
        out.reconfigure(encoding="utf-8")  # as the input is read, whatever the locale

    def write(text, tokens):
        out.write(text)
        out.flush()  # each window's output leaves as soon as it is tagged
        return tokens

    windows = _windows(_lines(args), args.window)  # bounded memory however long the input
    import torch

    if args.workers == 1:
        if threads:
            torch.set_num_threads(threads)
        tagger = PosTagger.load(args.model, args.device)
        ready = time.perf_counter()
        tokens = sum(write(*tag_window(tagger, window, args.tokenized, args.format))
                     for window in windows)
    else:
        tokens, ready = _tag_in_workers(args, windows, threads, write)
    if args.timing:
        _report_timing(args.workers, threads or torch.get_num_threads(), ready - start,
                       time.perf_counter() - ready, tokens)


if __name__ == "__main__":
    main()
