"""The tagger network: word and character features, a sentence LSTM, and a per-token tag head.

    word id ──► embedding ─────────────────────────┐
    word ─────► pretrained vector (frozen, optional) ┤
    word form ─► chars ─► char BiLSTM ─► final h ──┴─► concat ─► sentence LSTM ─► linear ─► log_softmax

The character BiLSTM gives every word, seen or not, a representation from its spelling, which is
what lets the tagger guess the tag of a word it never saw; pretrained vectors (tagger.pretrain) add
how the word is used in raw text, for many more words than training has. `config.encoder` picks the LSTM
implementation, `tagger.lstm.LSTM` ("hand") or `torch.nn.LSTM` ("torch"), for every LSTM in the
network; nothing else differs, so the two taggers are one model on two implementations. ("rnn" puts
the hand-made plain RNN of `tagger.rnn` in their place, for learners to compare the two.)
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from tagger import lstm, rnn
from tagger.config import Config

# The recurrent layers of each --encoder: the hand-made LSTM, nn.LSTM, or the hand-made plain RNN
# (tagger.rnn), the LSTM's point of comparison for learners (scripts/gradients_through_time.py).
ENCODERS = {"hand": lstm.LSTM, "torch": nn.LSTM, "rnn": rnn.RNN}
HAND_MADE = (lstm.LSTM, rnn.RNN)  # they read ids of a table's rows, and take input products

# A form cache holds at most this many bytes (64 MB): 16,384 forms' input products, or 65,536
# forms' character vectors, with the default sizes. By Zipf's law the forms met first are the
# frequent ones, so the limit bounds memory on endless input at little cost in speed.
FORM_CACHE_BYTES = 2**26
# Computed when a tagger starts (about 0.1 s) and kept: they are most of the tokens of any text.
FREQUENT_FORMS = 8192


def run_lstm(module, ids, lengths, table):
    """An LSTM over table[ids] (ids: (B, T), padded; lengths on the CPU), packed: the hand-made
    LSTM is given the table and the ids, so that without a backward pass it makes the input
    product of each row of the table once, not once per position (tagger.lstm.LSTM.forward;
    the hand-made RNN reads ids the same way); nn.LSTM is given the rows.
    -> (PackedSequence of outputs, (h_n, c_n), or h_n alone for an RNN)"""
    packed = pack_padded_sequence(ids, lengths, batch_first=True, enforce_sorted=False)
    if isinstance(module, HAND_MADE):
        return module(packed, table=table)
    return module(packed._replace(data=F.embedding(packed.data, table)))


class Pretrained(nn.Module):
    """What raw text taught (tagger.pretrain), frozen: a word vector, and optionally the states of a
    forward and a backward LSTM language model over the sentence (as in TagLM, Peters et al. 2017),
    which say what the words around a position lead one to expect there. -> (B, T, D + 2H)

    Frozen, because the vectors of words training never shows must stay where raw text put them,
    beside those of the words the tagger does learn from.
    """

    def __init__(self, num_words: int, size: int, hidden_size: int = 0, encoder: str = "hand"):
        super().__init__()
        self.vectors = nn.Embedding(num_words, size, padding_idx=0)
        # One bidirectional LSTM is the two language models: its forward direction has read the
        # sentence up to and including the word, its backward direction from the word to the end.
        # (tagger.pretrain trains LSTMs: with --encoder rnn they stay hand-made LSTMs.)
        LSTM = nn.LSTM if encoder == "torch" else lstm.LSTM
        self.lstm = LSTM(size, hidden_size, batch_first=True, bidirectional=True) \
            if hidden_size else None
        self.output_size = size + 2 * hidden_size
        self.requires_grad_(False)

    @staticmethod
    def sizes(weights: dict, prefix: str = "pretrained.") -> tuple[int, ...]:
        """(num_words, size, hidden_size) of the module whose weights these are, or () if none."""
        vectors = weights.get(prefix + "vectors.weight")
        if vectors is None:
            return ()
        lstm = weights.get(prefix + "lstm.weight_hh_l0")
        return (*vectors.shape, lstm.shape[1] if lstm is not None else 0)

    def forward(self, ids, lengths):
        x = self.vectors(ids)  # (B, T, D)
        if self.lstm is None:
            return x
        out, _ = run_lstm(self.lstm, ids, lengths, self.vectors.weight)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])  # (B, T, 2H)
        return torch.cat([x, out], dim=-1)


class FormCache:
    """What a model makes of each word form alone, kept for every form a tagger has met, so that
    a form's work is done once, not once per batch it is in: with the hand-made LSTM, the
    sentence LSTM's input products of the form's features (embedding and character vector);
    otherwise the character encoder's vector. Valid while the weights stay as they were: a
    PosTagger's, which tagger.train makes afresh for each evaluation. Vocab.batch spells only
    the forms not in `rows`.

    A form's numbers differ in their last bits with the batch that computes them, so the
    training's FREQUENT_FORMS most frequent forms are computed first, in a fixed order, and kept
    (`fixed`); `clear` forgets the rest. After `clear`, the output depends on what is tagged from
    there on alone, and known words still cost little, even in a short text."""

    def __init__(self, size: int, products: bool = False, limit_bytes: int = FORM_CACHE_BYTES):
        self.rows = {}  # form -> its row of `table`
        self.table = torch.empty(0, size)  # (capacity, size), grown by doubling up to `limit`
        self.products = products  # rows are input products (else character vectors)
        self.limit = max(1, limit_bytes // (4 * size))
        self.fixed = {}  # the rows `clear` keeps

    def clear(self):
        self.rows = dict(self.fixed)

    def vectors(self, new, batch):
        """The vectors of all the batch's forms, numbered as in `batch.forms`: `new` (the
        encoder's, for `batch.new_forms`), then the cached ones, which `new` then joins."""
        vectors = new
        if batch.cached is not None:  # gathered straight into place: no cat of a gathered copy
            vectors = new.new_empty(len(new) + len(batch.cached), new.shape[1])
            vectors[: len(new)] = new
            torch.index_select(self.table, 0, batch.cached, out=vectors[len(new) :])
        room = min(len(new), self.limit - len(self.rows))
        if room > 0:
            used = len(self.rows)
            if used + room > len(self.table):
                grown = new.new_empty(min(self.limit, max(2 * len(self.table), used + room, 1024)),
                                      new.shape[1])
                grown[:used] = self.table[:used]
                self.table = grown
            self.table[used : used + room] = new[:room]
            self.rows.update(zip(batch.new_forms[:room], range(used, used + room)))
        return vectors  # (U, size)


class Tagger(nn.Module):
    def __init__(self, config: Config, num_words: int, num_chars: int, num_tags: int,
                 pretrained: tuple[int, ...] = (), num_aux_tags: int = 0):
        """`pretrained`: the (num_words, size, hidden_size) of a `Pretrained` part, if any.
        `num_aux_tags`: the size of a second tag set (Brown's own tags, `--brown-tags`), learnt
        by a second head over the same encoder while training; it is not saved with the model."""
        super().__init__()
        LSTM = ENCODERS[config.encoder]
        self.word_embedding = nn.Embedding(num_words, config.embedding_size, padding_idx=0)
        self.pretrained = Pretrained(*pretrained, encoder=config.encoder) if pretrained else None
        self.char_embedding = nn.Embedding(num_chars, config.char_embedding_size, padding_idx=0)
        self.char_lstm = LSTM(config.char_embedding_size, config.char_hidden_size,
                              batch_first=True, bidirectional=True)
        pretrained_size = self.pretrained.output_size if pretrained else 0
        self.lstm = LSTM(config.embedding_size + pretrained_size + 2 * config.char_hidden_size,
                         config.hidden_size, num_layers=config.num_layers, batch_first=True,
                         dropout=config.dropout if config.num_layers > 1 else 0.0,
                         bidirectional=config.bidirectional)
        self.dropout = nn.Dropout(config.dropout)
        directions = 2 if config.bidirectional else 1
        self.head = nn.Linear(directions * config.hidden_size, num_tags)
        # Multi-task learning: the second tag set's head only shapes the encoder.
        self.aux_head = (nn.Linear(directions * config.hidden_size, num_aux_tags)
                         if num_aux_tags else None)

    def encode_chars(self, chars, char_lengths):
        """One vector per distinct word form: the char BiLSTM's two final states. -> (U, 2C)"""
        if not len(chars):  # every form's vector is cached
            return self.char_embedding.weight.new_empty(0, 2 * self.char_lstm.hidden_size)
        _, state = run_lstm(self.char_lstm, chars, char_lengths, self.char_embedding.weight)
        h_n = state[0] if isinstance(state, tuple) else state  # (2, U, C): forward end, backward start
        return torch.cat([h_n[0], h_n[1]], dim=-1)

    def form_features(self, words, vectors):
        """What the sentence LSTM reads for word forms: each one's word embedding and character
        vector. words: (..., ) word ids; vectors: (..., 2C). -> (..., E + 2C)"""
        return torch.cat([self.word_embedding(words), vectors], dim=-1)

    def _encode_tokens(self, batch, forms):
        """The sentence LSTM over each token's features (dropped out in training). -> packed"""
        features = [self.form_features(batch.words, forms)]  # (B, T, E + 2C)
        if self.pretrained is not None:
            with torch.no_grad():
                features.append(self.pretrained(batch.vectors, batch.lengths))  # (B, T, P)
        x = self.dropout(torch.cat(features, dim=-1))  # (B, T, E + 2C [+ P])
        out, _ = self.lstm(pack_padded_sequence(x, batch.lengths, batch_first=True,
                                                enforce_sorted=False))
        return out

    def form_cache(self, vocab) -> FormCache:
        """A FormCache for inference with this model, holding the vocabulary's most frequent
        forms, computed in chunks of a fixed size and order (see FormCache)."""
        if isinstance(self.lstm, HAND_MADE) and self.pretrained is None:
            directions = 2 if self.lstm.bidirectional else 1
            gates = len(self.lstm.weight_ih_l0)  # 4H for an LSTM, H for an RNN
            cache = FormCache(directions * gates, products=True)
        else:
            cache = FormCache(2 * self.char_lstm.hidden_size)
        frequent = vocab.frequent_forms(min(FREQUENT_FORMS, cache.limit // 2))
        device = self.word_embedding.weight.device
        with torch.inference_mode():
            for start in range(0, len(frequent), 1024):
                batch = vocab.batch([frequent[start : start + 1024]], known=cache.rows).to(device)
                rows = self.encode_chars(batch.chars, batch.char_lengths)  # (U, 2C)
                if cache.products:
                    features = self.form_features(batch.form_words, rows)  # (U, E+2C)
                    rows = self.lstm.input_products(features).flatten(1)  # (U, D * 4H) (RNN: D * H)
                cache.vectors(rows, batch)
        cache.fixed = dict(cache.rows)
        return cache

    def _encode_forms(self, batch, forms, cache):
        """Inference: the sentence LSTM over each distinct form's features, computed once (without
        dropout, a token's features are its form's); with the hand-made LSTM and a cache, its
        input products are made once per form for as long as the cache keeps them. -> packed"""
        new = len(batch.new_forms) if cache is not None else len(forms)
        table = self.form_features(batch.form_words[:new], forms)  # (U', E+2C)
        if cache is None:
            return run_lstm(self.lstm, batch.forms, batch.lengths, table)[0]
        if not cache.products:
            forms = cache.vectors(forms, batch)  # (U, 2C)
            table = self.form_features(batch.form_words, forms)  # (U, E+2C)
            return run_lstm(self.lstm, batch.forms, batch.lengths, table)[0]
        products = self.lstm.input_products(table)  # (U_new, D, 4H)
        products = cache.vectors(products.flatten(1), batch).view(-1, *products.shape[1:])
        packed = pack_padded_sequence(batch.forms, batch.lengths, batch_first=True,
                                      enforce_sorted=False)
        return self.lstm(packed, products=products)[0]  # (U, D, 4H) products above

    def forward(self, batch, aux: bool = False, cache: FormCache | None = None):
        """Log-probabilities of every tag at every position. -> (B, T, num_tags); with `aux`,
        also those of the second tag set's. -> ((B, T, num_tags), (B, T, num_aux_tags)).
        `cache` (inference only) holds the vectors of forms met in earlier batches."""
        forms = self.encode_chars(batch.chars, batch.char_lengths)  # (U_new, 2C)
        if self.training or self.pretrained is not None:  # features that differ token by token
            if cache is not None:
                forms = cache.vectors(forms, batch)  # (U, 2C)
            out = self._encode_tokens(batch, forms[batch.forms])
        else:
            out = self._encode_forms(batch, forms, cache)
        out, _ = pad_packed_sequence(out, batch_first=True,
                                     total_length=batch.forms.shape[1])  # (B, T, D*H)
        out = self.dropout(out)
        log_probs = F.log_softmax(self.head(out), dim=-1)
        if aux:
            return log_probs, F.log_softmax(self.aux_head(out), dim=-1)
        return log_probs
