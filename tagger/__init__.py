"""tagger: an English part-of-speech tagger built around a hand-made bidirectional LSTM.

The hand-made LSTM (`tagger.lstm.LSTM`) is a drop-in for `torch.nn.LSTM`; the same tagger
with `nn.LSTM` as its encoder is the reference it is measured against.
"""

import os

__version__ = "0.1.0"

# OpenMP threads that wait for work sleep instead of spinning. A spinning thread holds a core
# that another thread of the same parallel region may be waiting for: with every core busy with
# other work, a two-thread training epoch ran 19x slower than with one thread
# (scripts/bench_busy.py). Set before torch loads its OpenMP runtime, which reads it once; a user's
# own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
