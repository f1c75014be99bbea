"""The tagger network: word and character features, a sentence LSTM, and a per-token tag head.

    word id ──► embedding ─────────────────────────┐
    word ─────► pretrained vector (frozen, optional) ┤
    word form ─► chars ─► char BiLSTM ─► final h ──┴─► concat ─► sentence LSTM ─► linear ─► log_softmax

The character BiLSTM gives every word, seen or not, a representation from its spelling, which is
what lets the tagger guess the tag of a word it never saw; pretrained vectors (tagger.pretrain) add
how the word is used in raw text, for many more words than training has. `config.encoder` picks the LSTM
implementation, `tagger.lstm.LSTM` ("hand") or `torch.nn.LSTM` ("torch"), for every LSTM in the
network; nothing else differs, so the two taggers are one model on two implementations.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from tagger import lstm
from tagger.config import Config

ENCODERS = {"hand": lstm.LSTM, "torch": nn.LSTM}


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
        self.lstm = (ENCODERS[encoder](size, hidden_size, batch_first=True, bidirectional=True)
                     if hidden_size else None)
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
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])  # (B, T, 2H)
        return torch.cat([x, out], dim=-1)


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
        x = self.char_embedding(chars)  # (U, L, E_c)
        packed = pack_padded_sequence(x, char_lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.char_lstm(packed)  # h_n: (2, U, C), forward end and backward start
        return torch.cat([h_n[0], h_n[1]], dim=-1)

    def forward(self, batch, aux: bool = False):
        """Log-probabilities of every tag at every position. -> (B, T, num_tags); with `aux`,
        also those of the second tag set's. -> ((B, T, num_tags), (B, T, num_aux_tags))"""
        forms = self.encode_chars(batch.chars, batch.char_lengths)[batch.forms]  # (B, T, 2C)
        features = [self.word_embedding(batch.words), forms]  # (B, T, E), (B, T, 2C)
        if self.pretrained is not None:
            with torch.no_grad():
                features.append(self.pretrained(batch.vectors, batch.lengths))  # (B, T, P)
        x = self.dropout(torch.cat(features, dim=-1))  # (B, T, E + 2C [+ P])
        packed = pack_padded_sequence(x, batch.lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])  # (B, T, D*H)
        out = self.dropout(out)
        log_probs = F.log_softmax(self.head(out), dim=-1)
        if aux:
            return log_probs, F.log_softmax(self.aux_head(out), dim=-1)
        return log_probs
