"""tagger: an English part-of-speech tagger built around a hand-made bidirectional LSTM.

The hand-made LSTM (`tagger.lstm.LSTM`) is a drop-in for `torch.nn.LSTM`; the same tagger
with `nn.LSTM` as its encoder is the reference it is measured against.
"""

__version__ = "0.1.0"
