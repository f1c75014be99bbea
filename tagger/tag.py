"""Tag text with a trained model: the `PosTagger` class and `python -m tagger.tag`.

    python -m tagger.tag "The dog ate the apple"        ->  The/DT dog/NN ate/VBD the/DT apple/NN
    python -m tagger.tag --file text.txt --format conll
    echo "Everybody read that book" | python -m tagger.tag

`PosTagger` follows NLTK's tagger interface (`tag`, `tag_sents`, `accuracy`), so it can stand in
for `nltk.tag.PerceptronTagger` in code written for NLTK.
"""

import io
import json
import sys

import torch
from nltk.tokenize import TreebankWordTokenizer

from tagger import storage
from tagger.config import resolve_device
from tagger.errors import ArgumentParser, TaggerError, cli

# Sentences are batched by tokens, not by count, so a 10,000-token sentence and a million short
# ones both keep memory bounded.
TOKENS_PER_BATCH = 4096

# Longer "sentences" (a whole document on one line) are tagged in pieces of at most this many
# tokens, cut after a sentence-final token where there is one: memory then stays within the token
# budget, and many pieces share a batch where one long sequence would run step by step. No real
# sentence comes near this length, so tags change only for text that was not a sentence.
MAX_SENTENCE_TOKENS = 1000
SENTENCE_ENDS = {".", "!", "?"}


class PosTagger:
    def __init__(self, model, vocab, config, device="cpu"):
        self.model, self.vocab, self.config = model.eval(), vocab, config
        self.device = torch.device(device)

    @classmethod
    def load(cls, folder="models/latest", device="auto"):
        device = resolve_device(device)
        model, vocab, config, _ = storage.load(folder, device)
        return cls(model, vocab, config, device)

    def predict(self, sentences):
        """Tags only: one list of tags per sentence of tokens."""
        pieces, owners = [], []
        for k, sentence in enumerate(sentences):
            for piece in split_long(sentence):
                pieces.append(piece)
                owners.append(k)
        tags = [[] for _ in sentences]
        for k, piece_tags in zip(owners, self._predict_pieces(pieces)):
            tags[k].extend(piece_tags)
        return tags

    def _predict_pieces(self, sentences):
        order = sorted(range(len(sentences)), key=lambda k: len(sentences[k]))
        tags = [[] for _ in sentences]
        batch, size = [], 0
        for k in order + [None]:  # None flushes the last batch
            n = len(sentences[k]) if k is not None else 0
            if batch and (k is None or (size + n) > TOKENS_PER_BATCH):
                for j, t in zip(batch, self._predict_batch([sentences[j] for j in batch])):
                    tags[j] = t
                batch, size = [], 0
            if k is not None and n:
                batch.append(k)
                size += n
        return tags

    @torch.inference_mode()
    def _predict_batch(self, sentences):
        batch = self.vocab.batch(sentences).to(self.device)
        best = self.model(batch).argmax(-1).cpu()  # (B, T)
        return [self.vocab.decode_tags(row[: len(s)].tolist()) for row, s in zip(best, sentences)]

    def tag(self, tokens):
        """[(token, tag), ...] for one tokenized sentence, as nltk.tag.TaggerI.tag."""
        return self.tag_sents([tokens])[0]

    def tag_sents(self, sentences):
        # Read once: NLTK code passes generators (TaggerI.accuracy does), which a second pass
        # would find empty.
        sentences = [list(s) for s in sentences]
        return [list(zip(s, t)) for s, t in zip(sentences, self.predict(sentences))]

    def evaluate(self, gold):
        """Accuracy, known/unknown-word accuracy and per-tag scores on tagged sentences."""
        from tagger.evaluate import evaluate  # scikit-learn and matplotlib: slow to import for the CLI

        predicted = self.predict([[w for w, _ in s] for s in gold])
        return evaluate(gold, predicted, self.vocab.is_known)

    def accuracy(self, gold):
        """Token accuracy on tagged sentences, as nltk.tag.TaggerI.accuracy."""
        return self.evaluate(gold)["accuracy"]


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


_tokenizer = TreebankWordTokenizer()


def tokenize(line, tokenized=False):
    """Penn Treebank tokens, as in the training data; `"` becomes `` or '' as the treebank writes it."""
    return line.split() if tokenized else _tokenizer.tokenize(line)


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
        for text in args.text:  # undecodable bytes reach sys.argv as lone surrogates
            yield text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
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


def _chunks(lines, size=10_000):
    chunk = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@cli
def main(argv=None):
    parser = ArgumentParser(prog="python -m tagger.tag", description=__doc__.split("\n")[0])
    parser.add_argument("text", nargs="*", help="sentences to tag (default: --file or stdin, one a line)")
    parser.add_argument("--file", help="read sentences from this file, one a line")
    parser.add_argument("--model", default="models/latest", help="model folder (default: models/latest)")
    parser.add_argument("--tokenized", action="store_true",
                        help="input is already tokens separated by whitespace")
    parser.add_argument("--format", choices=("text", "conll", "json"), default="text")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    args = parser.parse_args(argv)
    tagger = PosTagger.load(args.model, args.device)
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper):  # not when a caller has put a StringIO there
        out.reconfigure(encoding="utf-8")  # as the input is read, whatever the locale
    for chunk in _chunks(_lines(args)):  # bounded memory however long the input
        sentences = [tokenize(line, args.tokenized) for line in chunk]
        for tagged in tagger.tag_sents(sentences):
            print(format_sentence(tagged, args.format), file=out)
    out.flush()


if __name__ == "__main__":
    main()
