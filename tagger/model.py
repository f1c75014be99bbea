"""The tagger network: word and character features, a sentence LSTM, and a per-token tag head.

    word id ──► embedding ─────────────────────────┐
    word form ─► chars ─► char BiLSTM ─► final h ──┴─► concat ─► sentence LSTM ─► linear ─► log_softmax

The character BiLSTM gives every word, seen or not, a representation from its spelling, which is
what lets the tagger guess the tag of a word it never saw. `config.encoder` picks the LSTM
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


class Tagger(nn.Module):
    def __init__(self, config: Config, num_words: int, num_chars: int, num_tags: int):
        super().__init__()
        LSTM = ENCODERS[config.encoder]
        self.word_embedding = nn.Embedding(num_words, config.embedding_size, padding_idx=0)
        self.char_embedding = nn.Embedding(num_chars, config.char_embedding_size, padding_idx=0)
        self.char_lstm = LSTM(config.char_embedding_size, config.char_hidden_size,
                              batch_first=True, bidirectional=True)
        self.lstm = LSTM(config.embedding_size + 2 * config.char_hidden_size, config.hidden_size,
                         num_layers=config.num_layers, batch_first=True,
                         dropout=config.dropout if config.num_layers > 1 else 0.0,
                         bidirectional=config.bidirectional)
        self.dropout = nn.Dropout(config.dropout)
        directions = 2 if config.bidirectional else 1
        self.head = nn.Linear(directions * config.hidden_size, num_tags)

    def encode_chars(self, chars, char_lengths):
        """One vector per distinct word form: the char BiLSTM's two final states. -> (U, 2C)"""
        x = self.char_embedding(chars)  # (U, L, E_c)
        packed = pack_padded_sequence(x, char_lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.char_lstm(packed)  # h_n: (2, U, C), forward end and backward start
        return torch.cat([h_n[0], h_n[1]], dim=-1)

    def forward(self, batch):
        """Log-probabilities of every tag at every position. -> (B, T, num_tags)"""
        forms = self.encode_chars(batch.chars, batch.char_lengths)[batch.forms]  # (B, T, 2C)
        x = torch.cat([self.word_embedding(batch.words), forms], dim=-1)  # (B, T, E + 2C)
        x = self.dropout(x)
        packed = pack_padded_sequence(x, batch.lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])  # (B, T, D*H)
        return F.log_softmax(self.head(self.dropout(out)), dim=-1)
