"""Tag text with a trained model: the `PosTagger` class and `python -m tagger.tag`.

    python -m tagger.tag "Mr. Smith went to Washington. He didn't like it there."
        ->  Mr./NNP Smith/NNP went/VBD to/TO Washington/NNP ./.
            He/PRP did/VBD n't/RB like/VB it/PRP there/RB ./.
    python -m tagger.tag --file text.txt --format conllu
    echo "Everybody read that book" | python -m tagger.tag --format json
    python -m tagger.tag --file big.txt --format conll --workers 2 > big.conll

Text is read as running text (tagger.sentences): paragraphs split into sentences, each sentence
one output line (or CoNLL block), its tokens written as the input has them and each given its
character span in JSON output; `--split lines` reads one sentence a line, `--tokenized` tokens as
given. Input streams through in windows of whole paragraphs, each tagged in length-sorted batches
and written, in input order, before the next is read, so memory stays bounded whatever the size
of the input. `--workers N` tags the windows in N processes, each with its own copy of the model,
and writes them in input order as well.

`PosTagger` follows NLTK's tagger interface (`tag`, `tag_sents`, `accuracy`), so it can stand in
for `nltk.tag.PerceptronTagger` in code written for NLTK, and `tag_text` tags running text with
each token's span, as spaCy's `token.idx` and Stanza's `start_char` give it.

Several models make an ensemble (`--model A --model B`, `PosTagger.load([A, B])`): each token gets
the tag with the highest probability averaged over the models, which errs less than any one of them
where they disagree, as on words none of them saw in training.
"""

import io
import multiprocessing
import os
import resource
import signal
import sys
import time
import traceback
from collections import deque
from dataclasses import dataclass

from tagger import blocks, formats, sentences, tagsets
from tagger.config import resolve_device
from tagger.errors import ArgumentParser, TaggerError, cli

# torch, and the modules of this package that need it, are imported where they are used: `--help`
# and a mistyped flag then answer at once instead of after the seconds torch takes to load.

# Sentences are batched by tokens, not by count, so a 10,000-token sentence and a million short
# ones both keep memory bounded. Larger batches mean larger products at every step: 8,192 tagged
# 5-10% faster than 4,096 on one thread (16,384 no faster again).
TOKENS_PER_BATCH = 8192

# Longer "sentences" (a whole document on one line) are tagged in pieces of at most this many
# tokens, cut after a sentence-final token where there is one: memory then stays within the token
# budget, and many pieces share a batch where one long sequence would run step by step. No real
# sentence comes near this length, so tags change only for text that was not a sentence.
MAX_SENTENCE_TOKENS = 1000
SENTENCE_ENDS = {".", "!", "?"}

# With --workers N, at most this many windows per worker are read ahead of the one being written.
WINDOWS_AHEAD = 2


@dataclass(frozen=True)
class Options:
    """How text is read and written (the command line's --split, --tokenized, --format and
    --tagset); tagger.bulk reads and writes with the same."""
    split: str = "sentences"
    tokenized: bool = False
    format: str = "text"
    tagset: str = "model"


class PosTagger:
    """A trained model, or an ensemble of them; `model`, `vocab` and `config` are the first one's
    (its vocabulary decides which words count as unknown). What the models make of each word
    form is kept from one call to the next (FormCache), so the weights must stay as they are
    (after changing them, make a new PosTagger), and a probability can differ in its last bits
    with what was tagged before (`clear_cache`; tags did not, on 137k tokens of Brown)."""

    def __init__(self, model, vocab, config, device="cpu"):
        import torch

        self.model, self.vocab, self.config = model.eval(), vocab, config
        self.device = torch.device(device)
        self.members = []
        self._add_member(model, vocab)

    def _add_member(self, model, vocab):
        self.members.append((model.eval(), vocab, model.form_cache(vocab)))

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
            tagger._add_member(model, vocab)
        return tagger

    def predict(self, sentences):
        """Tags only: one list of tags per sentence of tokens."""
        return [tags for tags, _ in self.predict_scored(sentences)]

    def predict_scored(self, sentences):
        """(tags, probabilities) per sentence of tokens: each token's best tag, and the probability
        the model gives it (for an ensemble, the mean over its models)."""
        tags = self.vocab.tags

        def best(probs, sentences):  # (B, T, num_tags) -> [(tags, probabilities)]
            top, ids = probs.max(-1)  # (B, T) each
            return [([tags[i] for i in row[: len(s)]], p[: len(s)])
                    for row, p, s in zip(ids.tolist(), top.tolist(), sentences)]

        return self._predict(sentences, best, lambda parts: (
            [t for tags, _ in parts for t in tags], [p for _, probs in parts for p in probs]))

    def predict_proba(self, sentences):
        """Every tag's probability at every token: one (tokens, num_tags) tensor per sentence,
        columns in the order of `vocab.tags` (for an ensemble, the mean over its models). What a
        student learns from when it learns from this tagger (tagger.distill)."""
        import torch

        return self._predict(
            sentences, lambda probs, sentences: [p[: len(s)].cpu() for p, s in zip(probs, sentences)],
            lambda parts: torch.cat(parts))

    def _predict(self, sentences, per_batch, join):
        """`per_batch(probabilities (B, T, num_tags), sentences)` over length-sorted batches, one
        result per sentence; a sentence longer than MAX_SENTENCE_TOKENS is tagged in pieces whose
        results `join` makes one."""
        if all(len(s) <= MAX_SENTENCE_TOKENS for s in sentences):
            return self._predict_pieces(sentences, per_batch)
        pieces, owners = [], []
        for k, sentence in enumerate(sentences):
            for piece in split_long(sentence):
                pieces.append(piece)
                owners.append(k)
        parts = [[] for _ in sentences]
        for k, result in zip(owners, self._predict_pieces(pieces, per_batch)):
            parts[k].append(result)
        return [join(p) for p in parts]

    def _predict_pieces(self, sentences, per_batch):
        order = sorted(range(len(sentences)), key=lambda k: len(sentences[k]))
        results = [None] * len(sentences)
        batch, size = [], 0
        for k in order + [None]:  # None flushes the last batch
            n = len(sentences[k]) if k is not None else 0
            if batch and (k is None or (size + n) > TOKENS_PER_BATCH):
                chunk = [sentences[j] for j in batch]
                for j, result in zip(batch, per_batch(self._probabilities(chunk), chunk)):
                    results[j] = result
                batch, size = [], 0
            if k is not None and n:
                batch.append(k)
                size += n
        empty = [k for k, result in enumerate(results) if result is None]
        if empty:  # an empty sentence gets what an empty row of a batch would
            import torch

            none = torch.zeros(len(empty), 0, len(self.vocab.tags))  # (E, 0, num_tags)
            for k, result in zip(empty, per_batch(none, [[]] * len(empty))):
                results[k] = result
        return results

    def _probabilities(self, sentences):
        """-> (B, T, num_tags) probabilities of a batch of sentences, the mean over the members."""
        import torch

        def log_probs(model, vocab, cache):  # each member reads the sentences its own way
            batch = vocab.batch(sentences, known=cache.rows).to(self.device)
            return model(batch, cache=cache)  # (B, T, num_tags)

        with torch.inference_mode():
            if len(self.members) == 1:
                return log_probs(*self.members[0]).exp()
            return sum(log_probs(*member).exp() for member in self.members) / len(self.members)

    def clear_cache(self):
        """Forget what the models made of the word forms met so far, but for the training's most
        frequent forms, computed at the start (FormCache). The numbers a form gets depend, in
        their last bits, on the batch that first computed them, so after this the output depends
        on the sentences tagged from here on alone."""
        for _, _, cache in self.members:
            cache.clear()

    def tag(self, tokens):
        """[(token, tag), ...] for one tokenized sentence, as nltk.tag.TaggerI.tag."""
        return self.tag_sents([tokens])[0]

    def tag_sents(self, sentences):
        # Read once: NLTK code passes generators (TaggerI.accuracy does), which a second pass
        # would find empty.
        sentences = [list(s) for s in sentences]
        return [list(zip(s, t)) for s, t in zip(sentences, self.predict(sentences))]

    def tag_text(self, text, split="sentences"):
        """Running text tagged: one list per sentence of (token, tag, (start, end)), the token as
        the text has it and its span in `text`; `split="lines"` reads one sentence a line."""
        found = sentences.read_text(text, split)
        return [list(zip(s.tokens, tags, s.spans))
                for s, tags in zip(found, self.predict([s.forms for s in found]))]

    def explain(self, tokens):
        """What the sentence LSTM computed inside for one sentence of tokens: its gates and
        states at every token and direction, the tags and each token's three most probable
        (tagger.explain.Explanation). For an ensemble, the first model's."""
        return self.explain_sents([tokens])[0]

    def explain_sents(self, sentences):
        """An Explanation per sentence of tokens, from one forward pass of the first model."""
        from tagger.explain import explain

        return explain(self.model, self.vocab, [list(s) for s in sentences], self.device)

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


def tag_sentences(tagger, window, options):
    """A window's sentences (tagger.sentences.Sentence) and their tags, in the tag set `options`
    ask for. Each window starts from a cleared FormCache, so that its output is the window's
    alone, whichever process tags it after whichever others (--workers, tagger.bulk): a form's
    numbers differ in the last bits with the batch that first made them."""
    tagger.clear_cache()
    found = sentences.read(window, options.split, options.tokenized)
    tags = tagger.predict([s.forms for s in found])
    if options.tagset == "universal":
        tags = [tagsets.to_universal(t, tagger.vocab.tags) for t in tags]
    return found, tags


def tag_window(tagger, window, options):
    """The output for a window of the input (tagger.sentences.Window) as `options` say, with the
    number of its sentences and of its tokens; CoNLL-U's sentence ids start at 1."""
    found, tags = tag_sentences(tagger, window, options)
    output = formats.format_sentences(found, tags, options.format,
                                      model_kind=tagsets.kind(tagger.vocab.tags))
    return output, len(found), sum(len(s.tokens) for s in found)


def tag_windows(tagger, windows, options):
    """The output of several windows together, as the command writes them one after another
    (CoNLL-U numbered from 1 over all of them), with their sentences and tokens: what tagger.bulk
    makes of a block of a file, or of a record."""
    out = io.StringIO()
    write = Writer(out, options.format)
    for window in windows:
        write(*tag_window(tagger, window, options))
    return out.getvalue(), write.sentences, write.tokens


def _inputs(args):
    """The input as binary streams: each argument one, or the file, or stdin. Lines end at "\n"
    only (a stray "\r" inside a line is a space), and bytes that are not UTF-8 read as U+FFFD
    (tagger.blocks), wherever the text comes from: a stray byte must not end a long run with a
    traceback."""
    if args.text:
        for text in args.text:  # undecodable bytes reach sys.argv as lone surrogates
            yield io.BytesIO(text.encode("utf-8", "surrogateescape"))
    elif args.file:
        try:
            with open(args.file, "rb") as f:
                yield f
        except FileNotFoundError:
            raise TaggerError(f"input file '{args.file}' not found") from None
        except OSError as e:
            raise TaggerError(f"input file '{args.file}' cannot be read ({e.strerror})") from None
    else:
        if sys.stdin.isatty():
            raise TaggerError("nothing to tag: give a sentence, --file FILE, or pipe text in")
        yield sys.stdin.buffer


def read_windows(raw, options, lines=sentences.WINDOW_LINES):
    """The windows of a binary input, block by block (tagger.blocks), as tagger.bulk reads them,
    one block at a time or each in a process of its own."""
    for block in blocks.blocks(raw, options.split):
        yield from sentences.windows(block, options.split, lines, offset=block.block.chars)


def _windows(args, options):
    """Every input's windows, one after another; bounded memory however long the input."""
    for raw in _inputs(args):
        yield from read_windows(raw, options, args.window)


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


def _work(window, options):
    return tag_window(_worker_tagger, window, options)


def _tag_in_workers(args, options, windows, threads, write):
    """Tag the windows in a pool of `args.workers` processes, writing each window's output in input
    order; at most WINDOWS_AHEAD windows per worker are held at once. Returns the time
    (perf_counter) by which every worker had loaded the model."""
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
        pending = deque()
        for window in windows:
            pending.append(pool.apply_async(_work, (window, options)))
            while len(pending) >= WINDOWS_AHEAD * args.workers or (pending and pending[0].ready()):
                write(*_oldest_result(pending, started))
        while pending:
            write(*_oldest_result(pending, started))
        pool.close()
        pool.join()
    return ready


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
    """Peak memory in MiB. On Linux a process's own comes from /proc (VmHWM): getrusage's
    ru_maxrss keeps the parent's peak across fork and exec, so a tagger started by a process of
    1 GB reported 1 GB. ru_maxrss is in KiB on Linux (bytes on macOS, where this figure reads
    1,024 times too large)."""
    if who == resource.RUSAGE_SELF and os.path.exists("/proc/self/status"):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    return resource.getrusage(who).ru_maxrss / 1024


def _report_timing(workers, threads, start_up, seconds, tokens):
    """--timing's one line on stderr. Peak memory is each process's own: RUSAGE_CHILDREN gives the
    largest of the workers (ended and waited for by now), not their sum. It ends with the library
    the LSTMs' products go to, which decides the speed on CPU (tagger.lstm.products)."""
    from tagger import lstm

    each = f"{threads} thread{'s' * (threads > 1)}"
    who = f"{workers} workers of {each} each" if workers > 1 else f"1 process of {each}"
    started = "model loading" + (", worker start-up" if workers > 1 else "")
    memory = f"peak RSS {_peak_rss_mib(resource.RUSAGE_SELF):,.0f} MiB"
    if workers > 1:
        memory += (f" (main process), {_peak_rss_mib(resource.RUSAGE_CHILDREN):,.0f} MiB "
                   "(largest worker)")
    print(f"timing: {who}; ready in {start_up:.2f} s ({started}); tagged {tokens:,} tokens in "
          f"{seconds:.2f} s, {tokens / max(seconds, 1e-9):,.0f} tokens/s; {memory}; products: "
          f"{lstm.products()}", file=sys.stderr)


class Writer:
    """Writes each window's output as it comes, in input order, numbering CoNLL-U's sentences over
    the whole input; counts the sentences and tokens written."""

    def __init__(self, out, fmt):
        self.out, self.format, self.sentences, self.tokens = out, fmt, 0, 0

    def __call__(self, output, sentences, tokens):
        self.out.write(formats.renumber(output, self.format, self.sentences))
        self.out.flush()  # each window's output leaves as soon as it is tagged
        self.sentences += sentences
        self.tokens += tokens


def _parser():
    parser = ArgumentParser(prog="python -m tagger.tag", description=__doc__.split("\n")[0])
    parser.add_argument("text", nargs="*", help="text to tag, each argument a document (default: "
                                                "--file or stdin)")
    parser.add_argument("--file", help="read the text to tag from this file")
    parser.add_argument("--model", action="append",
                        help="model folder (default: models/latest); give it again for an "
                             "ensemble, which averages the models' tag probabilities")
    parser.add_argument("--split", choices=sentences.SPLITS, default=None,
                        help="sentences (the default): paragraphs, lines up to a blank line, "
                             "split into sentences; lines: one sentence a line, for text already "
                             "split")
    parser.add_argument("--tokenized", action="store_true",
                        help="input is already tokens separated by whitespace, one sentence a line")
    parser.add_argument("--format", choices=formats.FORMATS, default="text",
                        help="text: word/TAG, a sentence a line; conll: token<TAB>tag; json: "
                             "tokens, tags and character spans; conllu: CoNLL-U with UPOS and XPOS")
    parser.add_argument("--tagset", choices=tagsets.TAGSETS, default="model",
                        help="model: the model's own tags (Penn Treebank's for the default "
                             "model); universal: NLTK's universal tags (not for conllu, which "
                             "gives UPOS anyway)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--workers", type=int, default=1,
                        help="tag in this many processes, each loading the model (default: 1)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads per process (default: torch's default with one "
                             "worker, else cores / workers)")
    parser.add_argument("--window", type=int, default=sentences.WINDOW_LINES,
                        help="lines read before a window of paragraphs is tagged and written "
                             f"(default: {sentences.WINDOW_LINES:,}); with --split lines, 1 "
                             "answers each line of a pipe as it comes")
    parser.add_argument("--timing", action="store_true",
                        help="report load time, tokens/s and peak memory on stderr at the end")
    return parser


def options_from(parser, args) -> Options:
    """The reading and writing options of parsed arguments (tag's and bulk's), or the one-line
    error for a combination that cannot be."""
    if args.tokenized and args.split == "sentences":
        parser.error("--tokenized reads one sentence a line; leave --split sentences out")
    if args.tagset == "universal" and args.format == "conllu":
        parser.error("conllu gives universal tags as UPOS already; leave --tagset out")
    split = "lines" if args.tokenized else args.split or "sentences"
    return Options(split, args.tokenized, args.format, args.tagset)


@cli
def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    args.model = args.model or ["models/latest"]
    parser.require_at_least(args, workers=1, threads=0, window=1)
    options = options_from(parser, args)
    # oneDNN keeps the kernels it compiles for every shape of product it meets, up to 1,024 of
    # them; the batches of a long input come in hundreds of shapes, and that cache took some
    # 450 MB more on 1.2M tokens of Brown without making tagging any faster. Read at oneDNN's
    # first use (workers inherit it); the user's own setting wins.
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "32")
    start = time.perf_counter()
    threads = args.threads or (max(1, _cores() // args.workers) if args.workers > 1 else 0)
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper):  # not when a caller has put a StringIO there
        out.reconfigure(encoding="utf-8")  # as the input is read, whatever the locale
    write = Writer(out, options.format)
    windows = _windows(args, options)
    import torch

    if args.workers == 1:
        if threads:
            torch.set_num_threads(threads)
        tagger = PosTagger.load(args.model, args.device)
        ready = time.perf_counter()
        for window in windows:
            write(*tag_window(tagger, window, options))
    else:
        ready = _tag_in_workers(args, options, windows, threads, write)
    if args.timing:
        _report_timing(args.workers, threads or torch.get_num_threads(), ready - start,
                       time.perf_counter() - ready, write.tokens)


if __name__ == "__main__":
    main()
