#!/usr/bin/env python
"""Time tagger.lstm.LSTM against torch.nn.LSTM with identical weights, in one process.

    python scripts/bench_lstm.py                 # every case, 1 and 2 threads
    python scripts/bench_lstm.py --threads 1 --batch 32 --length 32 --quick

The two run alternately (hand, torch, hand, torch, ...) so drift in the machine's speed hits both
alike; each figure is the median of many repetitions. The ratio hand/torch is what to read: under
1.0 the hand-made LSTM is faster. GFLOP/s counts only the matrix multiplies (2 flops per
multiply-add; training counts forward + backward as 3x forward), next to the peak of one large
torch.mm on the same threads, so the distance to the machine's limit is visible.
"""

import itertools
import statistics
import time

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from tagger.errors import ArgumentParser, cli
from tagger.lstm import LSTM


def peak_gflops(n=2048, repeats=5):
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_time(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _time(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def make_case(batch, length, packed, input_size, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, length, input_size, generator=g)
    if not packed:
        return x, batch * length
    lengths = torch.randint(1, length + 1, (batch,), generator=g)
    lengths[0] = length  # the batch spans the full length
    return (x, lengths), int(lengths.sum())


def step(module, case, packed, training):
    """One forward (inference) or forward + backward (training) pass."""
    if packed:
        x, lengths = case
        x = x.requires_grad_(training)
        inp = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    else:
        inp = case.requires_grad_(training)
    if training:
        out, (h, c) = module(inp)
        (out.data if packed else out).sum().backward()
    else:
        with torch.inference_mode():
            module(inp)


def bench(batch, length, packed, training, input_size, hidden_size, repeats):
    torch.manual_seed(0)
    ref = nn.LSTM(input_size, hidden_size, batch_first=True, bidirectional=True)
    mine = LSTM(input_size, hidden_size, batch_first=True, bidirectional=True)
    mine.load_state_dict(ref.state_dict())
    case, tokens = make_case(batch, length, packed, input_size)
    for _ in range(3):  # warm-up: allocator, thread pools, oneDNN primitive caches
        step(mine, case, packed, training), step(ref, case, packed, training)
    times = {"hand": [], "torch": []}
    for _ in range(repeats):
        for name, module in (("hand", mine), ("torch", ref)):
            times[name].append(_time(lambda: step(module, case, packed, training)))
    flops = 2 * tokens * (input_size + hidden_size) * 4 * hidden_size * 2 * (3 if training else 1)
    med = {k: statistics.median(v) for k, v in times.items()}
    return med, flops


@cli
def main(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, nargs="+", default=None)
    parser.add_argument("--length", type=int, default=None)
    parser.add_argument("--input-size", type=int, default=100)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args(argv)
    shapes = [(32, 32), (128, 64)]
    if args.batch:
        shapes = [(b, args.length or 32) for b in args.batch]
    repeats = 5 if args.quick else args.repeats
    print(f"bidirectional, 1 layer, input {args.input_size}, hidden {args.hidden_size}; "
          f"median of {repeats} alternating runs; torch {torch.__version__}")
    print("| threads | batch x length | input | mode | hand ms | torch ms | hand/torch "
          "| hand GFLOP/s | torch GFLOP/s | mm peak GFLOP/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for threads in args.threads:
        torch.set_num_threads(threads)
        peak = peak_gflops()
        for (batch, length), packed, training in itertools.product(shapes, (False, True), (False, True)):
            med, flops = bench(batch, length, packed, training, args.input_size, args.hidden_size, repeats)
            print(f"| {threads} | {batch} x {length} | {'packed' if packed else 'dense'} "
                  f"| {'train' if training else 'infer'} | {1e3 * med['hand']:.2f} "
                  f"| {1e3 * med['torch']:.2f} | **{med['hand'] / med['torch']:.2f}** "
                  f"| {flops / med['hand'] / 1e9:.0f} | {flops / med['torch'] / 1e9:.0f} | {peak:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
