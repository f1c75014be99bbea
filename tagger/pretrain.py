"""Pretrain on raw, untagged text: `python -m tagger.pretrain --out models/pretrained`.

Tagged text is scarce (the treebank sample has 74k tokens, and one test token in ten is a form it
never saw) but raw English text is not: NLTK's abc, state_union and Brown (its tags ignored) hold
about 2.3M tokens. Two things are learnt from them, in this order:

1. word vectors: fastText (skip-gram with negative sampling over words and their character
   n-grams, gensim; or word2vec), which places some 63k words, most never seen in tagged
   training data, next to the words that are used like them;
2. a forward and a backward LSTM language model (the hand-made LSTM) over those vectors, whose
   states say what the words around a position lead one to expect there (TagLM, Peters et al.);
   independent of each other, they train at once, one process (and core) each (--jobs 2).

`python -m tagger.train --pretrained models/pretrained` copies both into the tagger, frozen, as
extra features of every word (tagger.model.Pretrained). The folder holds

    pretrained.safetensors   the Pretrained module's weights (vectors.weight, lstm.*)
    pretrained.json          {"format_version", "words": ["<pad>", "<unk>", ...], "settings"}

Words are looked up by `tagger.vocab.vector_key` (lower case, digits as 0), here and when tagging.
Text comes from NLTK corpora by name, or from plain-text files, one sentence or paragraph a line.
"""

import json
import math
import multiprocessing
import sys
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tagger.config import FORMAT_VERSION, Flags, flag
from tagger.errors import ArgumentParser, TaggerError, cli
from tagger.rawtext import NLTK_TEXTS, read_text

# torch, and the modules of this package that need it, are imported in the functions that use
# them: `--help` and a mistyped flag then answer at once instead of after the seconds torch
# takes to load.
if TYPE_CHECKING:
    from tagger.model import Pretrained

# Language-model training cuts longer sentences into pieces of this length (a few run to hundreds
# of tokens), so that no batch is dominated by one of them.
MAX_LM_TOKENS = 64

# The adaptive softmax's clusters: the 1000 commonest words (most of running text) get the full
# hidden size, rarer ones a quarter, a sixteenth and a 64th of it. A token of a cluster pays for a
# softmax over the whole cluster, so the rarest words (43k of the 63k, a few % of the tokens)
# have one of their own: without it, an eighth of the tokens paid for 58k words, which made the
# output layer, not the LSTM, take three quarters of the time.
CUTOFFS = (1000, 5000, 20000)


@dataclass
class Settings(Flags):
    """What `python -m tagger.pretrain` learns from, and how; every field is a flag."""
    text: tuple = flag(("abc", "state_union", "brown"),
                       f"NLTK corpora ({', '.join(NLTK_TEXTS)}) or plain-text files, one sentence "
                       "a line")
    vectors: str = flag("fasttext", "fasttext, whose character n-grams also place words seen too "
                        "rarely for word2vec, or word2vec", choices=("fasttext", "word2vec"))
    size: int = flag(100, "word vector size", bounds="[1, inf)")
    window: int = flag(2, "word vectors: context words on each side", bounds="[1, inf)")
    min_count: int = flag(2, "words seen at least this often learn a vector of their own "
                          "(fastText places the rest by their n-grams)", bounds="[1, inf)")
    epochs: int = flag(10, "word vectors: passes over the text", bounds="[1, inf)")
    negative: int = flag(10, "word vectors: negative samples per context word", bounds="[1, inf)")
    lm_hidden_size: int = flag(128, "language models' hidden size (0 = word vectors only)",
                               bounds="[0, inf)")
    lm_epochs: int = flag(1, "language models: passes over the text", bounds="[1, inf)")
    lm_batch_size: int = flag(64, "language models: sentences per batch", bounds="[1, inf)")
    lm_lr: float = flag(2e-3, "language models: Adam learning rate", bounds="(0, inf)")
    seed: int = flag(1, "random seed; with --threads 1 the same seed, the same result")
    threads: int = flag(1, "CPU threads (word vectors on more than one are not reproducible)",
                        bounds="[1, inf)", learned=False)
    jobs: int = flag(2, "language models trained at once, each in a process of its own with "
                     "--threads threads (1: one after the other; the same weights)",
                     bounds="[1, inf)", learned=False)
    out: str = flag("models/pretrained", "folder to write to", learned=False)


@dataclass
class PretrainedText:
    words: list[str]  # PAD, UNK, then by decreasing frequency in the raw text
    weights: dict  # a tagger.model.Pretrained state_dict
    settings: dict

    @property
    def sizes(self) -> tuple[int, ...]:
        from tagger.model import Pretrained

        return Pretrained.sizes(self.weights, prefix="")

    def save(self, folder):
        from safetensors.torch import save_file

        from tagger import storage

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = json.dumps({"format_version": FORMAT_VERSION, "words": self.words,
                           "settings": self.settings}, ensure_ascii=False)
        weights = {k: v.contiguous() for k, v in self.weights.items()}
        storage.write_atomic(folder / "pretrained.safetensors", lambda p: save_file(weights, p))
        storage.write_atomic(folder / "pretrained.json", lambda p: Path(p).write_text(meta))

    @classmethod
    def load(cls, folder) -> "PretrainedText":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from tagger.vocab import PAD, UNK

        folder = Path(folder)
        fix = f"make it with: python -m tagger.pretrain --out {folder}"
        if not all((folder / name).is_file() for name in ("pretrained.json",
                                                           "pretrained.safetensors")):
            raise TaggerError(f"no pretrained model in '{folder}'; {fix}")
        try:
            meta = json.loads((folder / "pretrained.json").read_text())
            weights = load_file(folder / "pretrained.safetensors")
        except (json.JSONDecodeError, UnicodeDecodeError, SafetensorError, OSError) as e:
            raise TaggerError(f"pretrained model in '{folder}' is unreadable ({e}); {fix}") from None
        if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
            raise TaggerError(f"pretrained model in '{folder}' has another format version; {fix}")
        words, vectors = meta.get("words"), weights.get("vectors.weight")
        if (not isinstance(words, list) or words[:2] != [PAD, UNK] or vectors is None
                or vectors.dim() != 2 or vectors.shape[0] != len(words)):
            raise TaggerError(f"pretrained model in '{folder}' does not match its word list; {fix}")
        return cls(words, weights, meta.get("settings", {}))


def _stable_hash(text: str) -> int:
    # gensim seeds each word's initial vector with hashfxn(word + seed); Python's own hash differs
    # from process to process, which would make the same seed give different vectors.
    return zlib.crc32(text.encode("utf-8"))


def train_vectors(sentences, settings: Settings):
    """-> (words, (V, D) vectors): skip-gram word2vec or fastText, scaled to unit variance like
    nn.Embedding's initial weights, with zero rows for PAD and UNK."""
    # imported here: training a tagger never needs gensim
    import torch
    from gensim.models import FastText, Word2Vec

    from tagger.vocab import PAD, UNK

    kind = FastText if settings.vectors == "fasttext" else Word2Vec
    model = kind(sentences, vector_size=settings.size, window=settings.window,
                 min_count=settings.min_count, sg=1, negative=settings.negative,
                 epochs=settings.epochs, seed=settings.seed, workers=settings.threads,
                 hashfxn=_stable_hash, sorted_vocab=1)
    words = list(model.wv.index_to_key)  # most frequent first
    if settings.vectors == "fasttext":
        # fastText builds a word's vector from its character n-grams (Bojanowski et al. 2017), so
        # it can place the words raw text has too rarely to learn from their contexts alone, the
        # very words tagged text lacks: they join the list, after the frequent ones.
        known = set(words)
        words += sorted({w for s in sentences for w in s} - known - {PAD, UNK})
    found = torch.from_numpy(model.wv[words].copy())  # (V - 2, D)
    vectors = torch.cat([torch.zeros(2, settings.size), found / found.std()])
    return [PAD, UNK] + words, vectors


def train_language_model(module: "Pretrained", sentences, settings: Settings, log):
    """Train `module.lstm`'s two directions as two language models over frozen vectors: the
    forward direction's state at t predicts word t+1, the backward direction's word t-1.

    The two share nothing but their input, so they train apart, `settings.jobs` at a time in
    processes of their own, each from its own seed: one after the other or at once, the same
    weights. The backward model is the forward one reading every sentence right to left."""
    import torch

    state = module.lstm.state_dict()  # a bidirectional LSTM: the forward direction's, then *_reverse
    directions = [{"name": name, "suffix": suffix,
                   "state": {k: state[k + suffix] for k in ("weight_ih_l0", "weight_hh_l0",
                                                            "bias_ih_l0", "bias_hh_l0")}}
                  for name, suffix in (("forward", ""), ("backward", "_reverse"))]
    pieces = [s[i:i + MAX_LM_TOKENS] for s in sentences for i in range(0, len(s), MAX_LM_TOKENS)]
    pieces = [p for p in pieces if len(p) > 1]
    vectors = module.vectors.weight.detach()
    if settings.jobs > 1:
        # spawn, not fork: a forked copy of a process that has run torch can hang. Messages go
        # straight to stderr, one line at a time, as two progress bars would garble each other.
        context = multiprocessing.get_context("spawn")
        with context.Pool(min(settings.jobs, len(directions))) as pool:
            results = pool.starmap(_train_direction, [(vectors, pieces, settings, d, None)
                                                      for d in directions])
    else:  # with --threads too: other thread counts may add numbers in another order
        threads = torch.get_num_threads()
        torch.set_num_threads(settings.threads)
        try:
            results = [_train_direction(vectors, pieces, settings, d, log) for d in directions]
        finally:
            torch.set_num_threads(threads)
    module.lstm.load_state_dict({k + d["suffix"]: v for d, (trained, _) in zip(directions, results)
                                 for k, v in trained.items()})  # still frozen, as made
    log("language models: perplexity " + ", ".join(
        f"{d['name']} {perplexity:.1f}" for d, (_, perplexity) in zip(directions, results)))


def _train_direction(vectors, pieces, settings: Settings, direction: dict, log=None):
    """One language model: an LSTM from `direction["state"]` reading `pieces` (reversed for the
    backward one), each state predicting the next word through an adaptive softmax (Grave et
    al. 2017) over all V words (class 0 = UNK), thrown away afterwards: only the LSTM's states
    serve the tagger. -> (the LSTM's state_dict, its perplexity over the last epoch)"""
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    from tqdm import tqdm

    from tagger import data
    from tagger.lstm import LSTM

    name, reverse, spawned = direction["name"], bool(direction["suffix"]), log is None
    if spawned:  # in a process of its own
        torch.set_num_threads(settings.threads)
        log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    # Each direction its own dropout masks; both the same batches.
    torch.manual_seed(settings.seed + reverse)
    generator = torch.Generator().manual_seed(settings.seed)
    H = settings.lm_hidden_size
    embedding = nn.Embedding.from_pretrained(vectors, freeze=True, padding_idx=0)
    model = LSTM(vectors.shape[1], H, batch_first=True)
    model.load_state_dict(direction["state"])
    num_classes = vectors.shape[0] - 1  # every word id but PAD, shifted down by one
    cutoffs = [c for c in CUTOFFS if c < num_classes - 1] or [max(1, num_classes // 2)]
    head = nn.AdaptiveLogSoftmaxWithLoss(H, num_classes, cutoffs, div_value=4.0)
    parameters = list(model.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(parameters, lr=settings.lm_lr)
    if reverse:
        pieces = [p[::-1] for p in pieces]
    for epoch in range(1, settings.lm_epochs + 1):
        batches = list(data.batches(pieces, settings.lm_batch_size, shuffle=True,
                                    generator=generator))
        bar = tqdm(batches, desc=f"{name} language model, epoch {epoch}", unit="batch",
                   file=sys.stderr, disable=True if spawned else None)
        total, count, start = 0.0, 0, time.perf_counter()
        for step, batch in enumerate(bar, 1):
            ids = _pad(batch)  # (B, T)
            lengths = torch.tensor([len(p) for p in batch])
            x = F.dropout(embedding(ids), 0.1, training=True)  # (B, T, D)
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = model(packed)
            out, _ = pad_packed_sequence(out, batch_first=True)  # (B, T, H)
            out = F.dropout(out, 0.1, training=True)
            # Position t predicts t + 1 where there is one: t + 1 < length.
            has_next = torch.arange(ids.shape[1] - 1) < (lengths - 1)[:, None]  # (B, T-1)
            loss = head(out[:, :-1][has_next], ids[:, 1:][has_next] - 1).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            tokens = int(has_next.sum())
            total, count = total + loss.item() * tokens, count + tokens
            if step % 50 == 0:
                bar.set_postfix(perplexity=f"{math.exp(total / count):.0f}")
            if bar.disable and step % max(1, len(batches) // 10) == 0:  # no bar: a line per tenth
                log(f"{name} language model epoch {epoch}: {step}/{len(batches)} batches, "
                    f"perplexity {math.exp(total / count):.0f}, "
                    f"{count / (time.perf_counter() - start):,.0f} tokens/s")
    return model.state_dict(), math.exp(total / count)


def _pad(rows):
    import torch

    width = max(len(r) for r in rows)
    return torch.tensor([r + [0] * (width - len(r)) for r in rows], dtype=torch.long)


def pretrain(settings: Settings, log=print) -> PretrainedText:
    import torch

    from tagger.model import Pretrained
    from tagger.vocab import vector_key

    start = time.perf_counter()
    torch.manual_seed(settings.seed)
    sentences = [[vector_key(w) for w in s] for name in settings.text for s in read_text(name)]
    tokens = sum(len(s) for s in sentences)
    log(f"{len(sentences):,} sentences, {tokens:,} tokens read in "
        f"{time.perf_counter() - start:.1f} s")
    words, vectors = train_vectors(sentences, settings)
    log(f"{len(words) - 2:,} word vectors of size {settings.size} in "
        f"{time.perf_counter() - start:.1f} s")
    module = Pretrained(len(words), settings.size, settings.lm_hidden_size)
    module.vectors.weight.copy_(vectors)
    if settings.lm_hidden_size:
        ids = {word: i for i, word in enumerate(words)}
        train_language_model(module, [[ids.get(w, 1) for w in s] for s in sentences],
                             settings, log)
        log(f"language models trained in {time.perf_counter() - start:.1f} s")
    recorded = {**asdict(settings), "text": list(settings.text), "tokens": tokens,
                "seconds": round(time.perf_counter() - start, 1)}
    return PretrainedText(words, module.state_dict(), recorded)


@cli
def main(argv=None):
    parser = ArgumentParser(prog="python -m tagger.pretrain", description=__doc__.split("\n")[0])
    settings = Settings.from_args(Settings.add_arguments(parser).parse_args(argv))
    import torch

    torch.set_num_threads(settings.threads)
    result = pretrain(settings, log=lambda m: print(m, file=sys.stderr, flush=True))
    result.save(settings.out)
    print(f"{len(result.words) - 2:,} words saved to {settings.out}; train with: "
          f"python -m tagger.train --pretrained {settings.out}")


if __name__ == "__main__":
    main()
