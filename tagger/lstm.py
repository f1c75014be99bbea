"""A hand-made LSTM: a drop-in for `torch.nn.LSTM`, written from plain tensor operations.

Same constructor, parameter names and shapes (`weight_ih_l0`, `bias_hh_l1_reverse`, gates ordered
i, f, g, o), same initialisation, same `forward(input, hx)` and outputs, dense or `PackedSequence`
input, so a `state_dict` moves between the two either way. No fused recurrent op is used: the
recurrence is a Python loop over time steps, and its backward pass is written by hand. For
learners, `record(lstm)` hands out what each layer computed (its gates i, f, g, o and its states
c and h at every step), read from the pass itself (tagger.explain shows them).

Why it is fast (by design, not by accident; `scripts/bench_lstm.py` measures it):
- the input-to-hidden products of all time steps are one large product before the loop; only the
  hidden-to-hidden product is left inside it;
- both directions advance together; the reverse direction reads each sequence mirrored within its
  own length, so both walk the same rows and share every element-wise op;
- sequences are kept packed (time-major rows, longest first), so a step only touches the sequences
  still running: no work, and no state change, on padding;
- a custom `autograd.Function` runs the loop without recording a graph, keeps the gate
  activations, and in backward computes the weight gradients as one large product each after the
  loop instead of one per step;
- each step writes into tensors made once per layer (gates, cells, outputs; in backward, the
  gate gradients over the saved activations), in place: nothing per step to allocate or join;
- without a backward pass the input products are made a block of steps at a time into one
  reused buffer, and the backward pass builds its large tensors in place: memory the allocator
  maps afresh (tens of MB at large batches) costs more to touch than the arithmetic written in it;
- one sigmoid serves all four gates.
"""

import math
import os
import warnings
from contextlib import contextmanager
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn.utils.rnn import PackedSequence


class Layout(NamedTuple):
    """Where the steps of a batch of sequences live in packed rows (time-major, longest first)."""

    steps: list  # (first row, active sequences) for each time step
    reverse: torch.Tensor  # (N,) the row holding the same sequence at its mirrored step
    prev: torch.Tensor  # (N,) row of the previous step in cat(initial state (B), rows (N))


def packed_layout(batch_sizes: torch.Tensor, device) -> Layout:
    """The layout of a PackedSequence with these batch sizes (a dense batch has them all equal)."""
    sizes = batch_sizes.tolist()
    batch = sizes[0]
    offsets = torch.cumsum(batch_sizes, 0) - batch_sizes  # (T,) first row of each step
    t = torch.repeat_interleave(torch.arange(len(sizes)), batch_sizes)  # (N,) step of each row
    b = torch.arange(len(t)) - offsets[t]  # (N,) sequence of each row
    lengths = (batch_sizes.unsqueeze(0) > torch.arange(batch).unsqueeze(1)).sum(1)  # (B,)
    reverse = offsets[lengths[b] - 1 - t] + b
    prev = torch.where(t > 0, batch + offsets[(t - 1).clamp(min=0)] + b, b)
    steps = list(zip(offsets.tolist(), sizes))
    return Layout(steps, reverse.to(device), prev.to(device))


# Which library computes the large products on CPU: "blas" (torch's addmm; MKL on x86) unless
# TAGGER_ONEDNN=1 asks for oneDNN, on any CPU. oneDNN was once faster on an AVX-512 CPU whose MKL ran
# AVX2 code, but on the three CPUs measured since it lost everywhere the tagger runs: an AVX2 EPYC
# (LSTMs 6-25% faster without it), an AVX-512 EPYC (tagging 74k against 68k tokens/s) and an
# AVX-512/AMX Xeon (tagging 1.04 of nn.LSTM's time without it against 1.23 with it; training
# 0.66 against 0.84). The switch stays, so that a CPU where it pays can be found: `python -m
# tagger.tag --timing` names the path and the CPU's capability.
ONEDNN_VARIABLE = "TAGGER_ONEDNN"
_ONEDNN = (os.environ.get(ONEDNN_VARIABLE, "0") == "1" and torch.backends.mkldnn.is_available()
           and hasattr(torch.ops.mkldnn, "_linear_pointwise"))


def products() -> str:
    """Which library the large products of the LSTM go to on CPU, and why, for --timing."""
    capability = torch.backends.cpu.get_cpu_capability()
    if _ONEDNN:
        return f"oneDNN for large products ({ONEDNN_VARIABLE}=1; CPU capability {capability})"
    return f"BLAS addmm (CPU capability {capability}; {ONEDNN_VARIABLE}=1 tries oneDNN)"


ONEDNN_MIN_MACS = 2**22  # see `linear`


def linear(x, weight, bias=None, add=None, out=None):
    """x @ weightᵀ (+ bias) (+ add), the one matrix product every step of the LSTM is made of;
    written into `out` when given.

    With TAGGER_ONEDNN=1 (see `_ONEDNN`), large float32 products on CPU go to oneDNN, the library
    behind nn.LSTM's own CPU kernel, which adds `add` in the same pass. Its fixed cost per call
    (~15 µs) loses on small products: alone they break even near 2**20 multiply-adds, but inside
    the loop, where one bmm serves both directions, the tagger's epochs were fastest with the
    switch at 2**22. Otherwise, and always on CUDA and in float64, it is addmm.
    """
    if _onednn(x, x.numel() * weight.shape[0]):
        x = x.contiguous()  # oneDNN is given rows (a no-op but for the backward pass's dAᵀ view)
        if add is not None:
            y = torch.ops.mkldnn._linear_pointwise.binary(x, add, weight, bias, "add")
        else:
            y = torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")
        return y if out is None else out.copy_(y)
    if add is not None or bias is not None:
        return torch.addmm(add if add is not None else bias, x, weight.t(), out=out)
    return torch.mm(x, weight.t(), out=out)


def _onednn(x, macs):
    """Whether a product of `macs` multiply-adds on tensors like x goes to oneDNN."""
    return (_ONEDNN and macs > ONEDNN_MIN_MACS and x.device.type == "cpu"
            and x.dtype == torch.float32 and torch.backends.mkldnn.enabled)


def _stack(parts):
    return parts[0].unsqueeze(0) if len(parts) == 1 else torch.stack(parts)


def _blocks(steps, rows):
    """Runs of consecutive steps of at most `rows` rows together (or one step, if larger):
    [(first step, end step, first row, end row)]."""
    blocks, first = [], 0
    for t, (start, size) in enumerate(steps):
        if t > first and start + size - steps[first][0] > rows:
            blocks.append((first, t, steps[first][0], start))
            first = t
    return blocks + [(first, len(steps), steps[first][0], sum(steps[-1]))]


def _input_products(x, table, products, W_ih, b, layout, scale):
    """fill(d, r0, r1, out): writes the input products of packed rows r0:r1 for direction d into
    `out`, from the input rows x (N, I); or, with a `table` (V, I), from the rows of the table
    that x (N,) names: then each row of the table is multiplied once, however many times it
    comes, and the products are gathered; or from `products` (V, D, 4H) made before (times
    `scale`, as W_ih and b are here: doubling is exact, so the same numbers)."""
    D = W_ih.shape[0]
    if table is not None and len(table) > len(x):  # a large table: multiply the rows x names
        used, x = torch.unique(x, return_inverse=True)
        table = table[used]
    xs = [x, x[layout.reverse]][:D]  # the reverse direction reads each sequence mirrored
    if table is None and products is None:
        return lambda d, r0, r1, out: linear(xs[d][r0:r1], W_ih[d], b[d], out=out)
    P = [linear(table, W_ih[d], b[d]) for d in range(D)] if products is None else \
        [products[:, d] * scale for d in range(D)]  # (V, 4H) each
    return lambda d, r0, r1, out: torch.index_select(P[d], 0, xs[d][r0:r1], out=out)


def _g_doubled(W_ih, W_hh, b):
    """The weights with the g gate's rows doubled, and the (4H,) scale that does it: tanh(a) =
    2σ(2a) - 1, so one sigmoid then serves all four gates, and torch's float32 tanh is several
    times slower than its sigmoid on CPU. (Doubling is exact.)"""
    H4 = W_ih.shape[1]
    scale = torch.ones(H4, dtype=W_ih.dtype, device=W_ih.device)
    scale[H4 // 2 : 3 * H4 // 4] = 2
    b = b * scale if b is not None else [None] * len(W_ih)
    return W_ih * scale[:, None], W_hh * scale[:, None], b, scale


def _forward(x, h0, c0, W_ih, W_hh, b, layout, save, table=None, products=None):
    """One layer, all directions at once, over packed rows.

    x: (N, I), or (N,) ids of rows of table (V, I) or of products (V, D, 4H) (inference only,
    see LSTM.forward); h0, c0: (D, B, H);
    W_ih: (D, 4H, I); W_hh: (D, 4H, H); b: (D, 4H) or None.
    Returns the final (h, c), and the hidden states O (D, N, H); with `save`, also what the
    backward pass needs: the gate activations A (D, N, 4H), cells C and tanh(C) (D, N, H).
    """
    D, H4, _ = W_ih.shape
    H = H4 // 4
    W_ih, W_hh, b, scale = _g_doubled(W_ih, W_hh, b)
    fill = _input_products(x, table, products, W_ih, b, layout, scale)
    # (D, N, 4H): all steps' input products at once. Each step then turns its rows into the gate
    # activations in place, so after the loop A is G, and the states are written straight into
    # C, TC and O: no per-step tensors to allocate and join at the end. Without `save` (no
    # backward pass to keep the gates for), the products are made a block of steps at a time into
    # one buffer the blocks share: a buffer for all N rows is tens of MB at large batches, which
    # the allocator maps afresh at every call, and touching its new pages cost as much as the
    # products written into them.
    N = x.shape[0]
    C, TC, O = (h0.new_empty(D, N, H) for _ in range(3))
    blocks = _blocks(layout.steps, N if save else max(1, 2**20 // (D * H4)))
    A = h0.new_empty(D, max(r1 - r0 for _, _, r0, r1 in blocks), H4)
    # Per step, one product per direction through oneDNN when they are large; else one bmm for all.
    per_direction = _onednn(h0, h0.shape[1] * H * H4)
    W_hh_t = W_hh.transpose(1, 2)  # (D, H, 4H)
    minus_one = h0.new_tensor(-1.0)  # a tensor, not a Python number: no conversion at every op
    h, c = h0, c0
    h_n, c_n = [], []  # final states, collected as sequences end (the shortest last)
    sizes = [size for _, size in layout.steps] + [0]
    for t0, t1, r0, r1 in blocks:
        for d in range(D):
            fill(d, r0, r1, A[d, : r1 - r0])
        for t in range(t0, t1):
            start, size = layout.steps[t]
            s = slice(start, start + size)
            # The LSTM, for the `size` sequences still running at this step:
            #   i, f, g, o = σ(W_ii x + W_hi h + b_i), σ(... f), tanh(... g), σ(... o)
            #   c' = f ⊙ c + i ⊙ g
            #   h' = o ⊙ tanh(c')
            a = A[:, start - r0 : start - r0 + size]  # (D, size, 4H)
            if per_direction:
                for d in range(D):
                    a[d] = linear(h[d, :size], W_hh[d], add=a[d])
            else:
                a.baddbmm_(h[:, :size], W_hh_t)
            a.sigmoid_()
            i, f, g, o = a.chunk(4, dim=-1)  # (D, size, H) each
            torch.add(minus_one, g, alpha=2, out=g)
            c = torch.addcmul(f * c[:, :size], i, g, out=C[:, s])
            tc = torch.add(c, c, out=TC[:, s]).sigmoid_()
            torch.add(minus_one, tc, alpha=2, out=tc)
            h = torch.mul(o, tc, out=O[:, s])
            if sizes[t + 1] < size:  # sequences sizes[t + 1] .. size - 1 end here
                h_n.append(h[:, sizes[t + 1] :]), c_n.append(c[:, sizes[t + 1] :])
    finals = torch.cat(h_n[::-1], dim=1), torch.cat(c_n[::-1], dim=1)  # (D, B, H) each
    return finals, [A, C, O, TC] if save else [None, None, O, None]  # (D, N, ·)


def _output(O, layout):
    """Each direction's hidden states back in each sequence's own time order. -> (N, D*H)"""
    return torch.cat([O[0], O[1][layout.reverse]], dim=1) if len(O) == 2 else O[0]


def _internals(A, C, O, layout):
    """One layer's gates (i, f, g, o), cell states c and hidden states h, each as `_output`
    gives the hidden states: per row, both directions in each sequence's own time order.
    -> {name: (N, D*H)}"""
    i, f, g, o = A.chunk(4, dim=-1)  # (D, N, H) each
    return {name: _output(v, layout) for name, v in zip("ifgoch", (i, f, g, o, C, O))}


@contextmanager
def record(module):
    """Within `with record(lstm) as internals:`, every forward pass of the hand-made `lstm` (a
    tagger.lstm.LSTM, or a tagger.rnn.RNN) appends to `internals`, for each layer in order, a
    dict of what that layer computed, read from the pass itself: for an LSTM the gates "i", "f",
    "g", "o" and the states "c" and "h" (nn.LSTM's names), for an RNN "h"; each shaped as the
    layer's output is (dense, batch-first or packed, directions side by side on the last
    dimension). Off, it costs one test of an attribute per layer."""
    if not hasattr(module, "internals"):
        raise TypeError(f"record needs a hand-made LSTM or RNN (tagger.lstm, tagger.rnn), got "
                        f"{type(module).__name__}; load its state_dict into one")
    module.internals = []
    try:
        yield module.internals
    finally:
        module.internals = None


def _previous(first, states, layout):
    """The state each row's step started from: `first` (D, B, H) for the first step's rows, else
    the row of the step before in `states` (D, N, H). Gathered straight into one tensor: joining
    `first` and `states` first would write every row twice. -> (D, N, H)"""
    B = first.shape[1]
    out = torch.empty_like(states)
    out[:, :B] = first
    rows = layout.prev[B:] - B
    for d in range(len(states)):
        torch.index_select(states[d], 0, rows, out=out[d, B:])
    return out


class _LSTMLayer(torch.autograd.Function):
    """One layer with a hand-written backward pass through time."""

    @staticmethod
    def forward(ctx, x, h0, c0, W_ih, W_hh, b, layout, internals=None):
        (h_n, c_n), (A, C, O, TC) = _forward(x, h0, c0, W_ih, W_hh, b, layout, save=True)
        ctx.layout, ctx.has_bias = layout, b is not None
        ctx.save_for_backward(x, h0, c0, W_ih, W_hh, A, C, O, TC)
        if internals is not None:  # copies: the tensors saved for backward stay its own
            internals.append({k: v.clone() for k, v in _internals(A, C, O, layout).items()})
        return _output(O, layout), h_n, c_n

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, dh_n, dc_n):
        x, h0, c0, W_ih, W_hh, A, C, O, TC = ctx.saved_tensors
        layout = ctx.layout
        D, H = W_hh.shape[0], W_hh.shape[2]
        i, f, g, o = A.chunk(4, dim=-1)  # (D, N, H) each
        h_prev, c_prev = _previous(h0, O, layout), _previous(c0, C, layout)  # (D, N, H) each
        # dL/d(pre-activation) = (dc, dc, dc, dh) ⊙ M, with M gathered for all steps at once:
        # what each gate multiplies, times the gate's own derivative (σ' = σ(1-σ), tanh' = 1-tanh²).
        # Each part written into M in place (x(1-x) as x - x·x): at large N every temporary is a
        # fresh allocation whose pages cost more to touch than the arithmetic.
        M = torch.empty_like(A)  # (D, N, 4H)
        Mi, Mf, Mg, Mo = M.chunk(4, dim=-1)
        torch.addcmul(i, i, i, value=-1, out=Mi).mul_(g)
        torch.addcmul(f, f, f, value=-1, out=Mf).mul_(c_prev)
        torch.addcmul(i, i, torch.mul(g, g, out=Mg), value=-1, out=Mg)
        torch.addcmul(o, o, o, value=-1, out=Mo).mul_(TC)
        P = torch.mul(TC, TC)  # dc'/dh' through h' = o ⊙ tanh(c'): o (1 - tanh²), as o - o tanh²
        torch.addcmul(o, o, P, value=-1, out=P)
        d_out = torch.zeros_like(_output(O, layout)) if d_out is None else d_out
        dO = _stack([d_out[:, :H], d_out[:, H:][layout.reverse]][:D])  # (D, N, H)
        dh_n = torch.zeros_like(h0) if dh_n is None else dh_n
        dc_n = torch.zeros_like(c0) if dc_n is None else dc_n
        per_direction = _onednn(x, h0.shape[1] * H * 4 * H)  # as in the forward pass
        W_hh_t = W_hh.transpose(1, 2).contiguous()  # (D, H, 4H): transposed once, not per step
        dh, dc = dh_n[:, :0], dc_n[:, :0]  # state gradients of the sequences running at a step
        for start, size in reversed(layout.steps):
            s = slice(start, start + size)
            if size > dh.shape[1]:  # sequences that end at this step join with their final grads
                dh = torch.cat([dh, dh_n[:, dh.shape[1] : size]], dim=1)
                dc = torch.cat([dc, dc_n[:, dc.shape[1] : size]], dim=1)
            dh_s = dO[:, s] + dh
            dc_s = torch.addcmul(dc, dh_s, P[:, s])
            # M's rows of this step become dA's, in place: (dc, dc, dc, dh) ⊙ M.
            da = M[:, s]  # (D, size, 4H)
            da[..., : 3 * H].unflatten(-1, (3, H)).mul_(dc_s.unsqueeze(2))
            da[..., 3 * H :].mul_(dh_s)
            dc = dc_s * f[:, s]
            dh = _stack([linear(da[d], W_hh_t[d]) for d in range(D)]) if per_direction else \
                torch.bmm(da, W_hh)
        # M is now dL/d(pre-activation) at every row (D, N, 4H)
        dW_ih, dW_hh, db, dx = weight_gradients(M, x, h_prev, W_ih, layout, ctx.has_bias,
                                                ctx.needs_input_grad[0])
        return dx, dh, dc, dW_ih, dW_hh, db, None, None


def weight_gradients(dA, x, h_prev, W_ih, layout, bias, input_grad):
    """After the loop through time, the gradients of the weights, the bias and the input from
    those of every row's pre-activations dA (D, N, G) (G: 4H for the LSTM, H for tagger.rnn's
    RNN), each as one large product rather than one per step. -> (dW_ih, dW_hh, db, dx)"""
    D = len(dA)
    xs = [x, x[layout.reverse]][:D]
    # dAᵀ as a view: BLAS reads a transposed operand in place, and copying dA cost more than
    # the two products it feeds.
    dA_t = dA.transpose(1, 2)  # (D, G, N)
    dW_hh = _stack([linear(dA_t[d], h_prev[d].t()) for d in range(D)])  # (D, G, H)
    dW_ih = _stack([linear(dA_t[d], xs[d].t()) for d in range(D)])  # (D, G, I)
    db = dA.sum(1) if bias else None
    dx = None
    if input_grad:
        dx = linear(dA[0], W_ih[0].t())
        if D == 2:
            dx += linear(dA[1], W_ih[1].t())[layout.reverse]
    return dW_ih, dW_hh, db, dx


def _shaped(rows, input, steps, batch, unbatched, batch_first):
    """Packed rows (N, F) shaped as the output of an input like `input`: a PackedSequence
    like it, or (T, B, F), batch-first (B, T, F), or unbatched (T, F)."""
    if isinstance(input, PackedSequence):
        return PackedSequence(rows, input.batch_sizes, input.sorted_indices,
                              input.unsorted_indices)
    output = rows.reshape(steps, batch, -1)  # (T, B, F)
    if unbatched:
        return output.squeeze(1)
    return output.transpose(0, 1) if batch_first else output


def check_arguments(hidden_size, num_layers, dropout):
    """nn.LSTM's and nn.RNN's own checks of their sizes and dropout, with their messages."""
    if not 0 <= dropout <= 1 or isinstance(dropout, bool):
        raise ValueError("dropout should be a number in range [0, 1] representing the "
                         "probability of an element being zeroed")
    if hidden_size <= 0 or num_layers <= 0:
        raise ValueError("hidden_size and num_layers must be greater than 0")
    if dropout > 0 and num_layers == 1:
        warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                      f"non-zero dropout expects num_layers greater than 1, but got "
                      f"dropout={dropout} and num_layers={num_layers}")


def register_weights(module, gates, factory):
    """The weights of a recurrent module with `gates` blocks of hidden_size rows (4 for an LSTM,
    1 for an RNN), named and registered in torch's order, so that the same seed initialises the
    same numbers as nn.LSTM (nn.RNN) does."""
    H, directions = module.hidden_size, 2 if module.bidirectional else 1
    for layer in range(module.num_layers):
        layer_input = module.input_size if layer == 0 else H * directions
        for suffix in ["", "_reverse"][:directions]:
            shapes = {"weight_ih": (gates * H, layer_input), "weight_hh": (gates * H, H)}
            if module.bias:
                shapes |= {"bias_ih": (gates * H,), "bias_hh": (gates * H,)}
            for name, shape in shapes.items():
                module.register_parameter(f"{name}_l{layer}{suffix}",
                                          nn.Parameter(torch.empty(shape, **factory)))


class LSTM(nn.Module):
    """Drop-in for `torch.nn.LSTM` (see its documentation); `proj_size` is not supported."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if proj_size != 0:
            raise ValueError("proj_size is not supported by tagger.lstm.LSTM; use proj_size=0")
        check_arguments(hidden_size, num_layers, dropout)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        self.mode = "LSTM"
        self.internals = None  # a list while `record(self)` is on
        register_weights(self, 4, {"device": device, "dtype": dtype})
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self):
        """A no-op kept for compatibility: there is no fused weight buffer to compact."""

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def _layer_weights(self, layer):
        suffixes = ["", "_reverse"] if self.bidirectional else [""]

        def stacked(name):  # (D, ...) for the directions of this layer
            return torch.stack([getattr(self, f"{name}_l{layer}{s}") for s in suffixes])

        bias = stacked("bias_ih") + stacked("bias_hh") if self.bias else None
        return stacked("weight_ih"), stacked("weight_hh"), bias

    def _check_hidden(self, hx, batch, unbatched):
        directions = 2 if self.bidirectional else 1
        expected = (self.num_layers * directions, self.hidden_size) if unbatched else \
            (self.num_layers * directions, batch, self.hidden_size)
        for k, state in enumerate(hx):
            if tuple(state.shape) != expected:
                raise RuntimeError(f"Expected hidden[{k}] size {expected}, got {list(state.shape)}")

    def _check_input(self, table, products, vectors):
        if products is not None:  # (V, D, 4H); for tagger.rnn.RNN, which shares this, (V, D, H)
            expected = (2 if self.bidirectional else 1, len(self.weight_ih_l0))
            if products.dim() != 3 or tuple(products.shape[1:]) != expected:
                raise RuntimeError(f"products must be (V, {expected[0]}, {expected[1]}), from "
                                   f"input_products; got {list(products.shape)}")
        elif vectors.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. "
                               f"Expected {self.input_size}, got {vectors.shape[-1]}")

    def _initial_states(self, hx, input, vectors, batch, unbatched):
        """(h0, c0), each (L*D, B, H): zeros like `vectors` without `hx`."""
        if hx is None:
            directions = 2 if self.bidirectional else 1
            zeros = vectors.new_zeros(self.num_layers * directions, batch, self.hidden_size)
            return zeros, zeros
        self._check_hidden(hx, batch, unbatched)
        h0, c0 = (s.unsqueeze(1) for s in hx) if unbatched else hx
        if isinstance(input, PackedSequence) and input.sorted_indices is not None:
            h0, c0 = (s.index_select(1, input.sorted_indices) for s in (h0, c0))  # sorted batch
        return h0, c0

    def _rows(self, input):
        """The input as packed rows: (x (N, I), batch sizes, steps (None if packed), unbatched)."""
        if isinstance(input, PackedSequence):
            return input.data, input.batch_sizes, None, False
        if input.dim() not in (2, 3):
            raise ValueError(f"LSTM: Expected input to be 2D or 3D, got {input.dim()}D instead")
        unbatched = input.dim() == 2
        seq = input.unsqueeze(1) if unbatched else \
            (input.transpose(0, 1) if self.batch_first else input)  # (T, B, I)
        steps, batch = seq.shape[:2]
        return (seq.reshape(steps * batch, -1), torch.full((steps,), batch, dtype=torch.long),
                steps, unbatched)

    def _read_input(self, input, table, products):
        """The input as packed rows, and what holds its values: (input (ids one wide, when they
        are ids), x (N, I) or ids (N,), vectors (x, the table or the products), batch sizes,
        steps (None if packed), unbatched)."""
        if table is not None or products is not None:  # ids read as vectors one wide, then ids
            input = input._replace(data=input.data.unsqueeze(-1)) \
                if isinstance(input, PackedSequence) else input.unsqueeze(-1)
        x, batch_sizes, steps, unbatched = self._rows(input)
        vectors = x if table is None and products is None else \
            (table if products is None else products)  # what holds the input's values
        if vectors is not x:
            x = x.squeeze(-1)  # (N,)
        self._check_input(table, products, vectors)
        return input, x, vectors, batch_sizes, steps, unbatched

    def input_products(self, rows):
        """What the first layer adds to each direction's gates for each of these input rows:
        W_ih x + b_ih + b_hh, (V, input_size) -> (V, D, 4H); for `forward(ids, products=...)`."""
        W_ih, _, b = self._layer_weights(0)
        return torch.stack([linear(rows, W_ih[d], None if b is None else b[d])
                            for d in range(len(W_ih))], dim=1)

    def forward(self, input, hx=None, table=None, products=None):
        """As nn.LSTM's forward, with two additions for input that is rows of a table:
        - `table` (V, input_size): `input` holds ids of the table's rows where it would hold
          vectors, and the LSTM reads table[ids], as `nn.LSTM(nn.Embedding(...)(ids))` would.
          Without a backward pass it then makes the first layer's input products once per row
          of the table and gathers them, which saves most of that product wherever rows repeat
          (words in a batch of sentences).
        - `products` (V, D, 4H), from `input_products(table)` made before (inference only): the
          same, with the products themselves kept from one call to the next."""
        input, x, vectors, batch_sizes, steps, unbatched = self._read_input(input, table, products)
        packed, batch = isinstance(input, PackedSequence), int(batch_sizes[0])

        directions = 2 if self.bidirectional else 1
        h0, c0 = self._initial_states(hx, input, vectors, batch, unbatched)
        layout = packed_layout(batch_sizes, x.device)
        record = torch.is_grad_enabled() and (vectors.requires_grad or h0.requires_grad or
                                              c0.requires_grad or any(p.requires_grad
                                                                      for p in self.parameters()))
        if record and products is not None:
            raise RuntimeError("LSTM products= is for inference; give table= to train")
        if record and table is not None:  # the backward pass reads the input's rows one by one
            x, table = F.embedding(x, table), None
        internals = [] if self.internals is not None else None  # {name: (N, D*H)} per layer
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            W_ih, W_hh, b = self._layer_weights(layer)
            layer_states = slice(layer * directions, (layer + 1) * directions)
            h0_l, c0_l = h0[layer_states], c0[layer_states]  # (D, B, H)
            if record:
                x, h_l, c_l = _LSTMLayer.apply(x, h0_l, c0_l, W_ih, W_hh, b, layout, internals)
            else:
                (h_l, c_l), (A, C, O, _) = _forward(
                    x, h0_l, c0_l, W_ih, W_hh, b, layout, save=internals is not None,
                    table=table, products=products)
                x, table, products = _output(O, layout), None, None
                if internals is not None:
                    internals.append(_internals(A, C, O, layout))
            h_n.append(h_l)
            c_n.append(c_l)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)

        h_n, c_n = torch.cat(h_n), torch.cat(c_n)  # (L*D, B, H)
        if packed and input.unsorted_indices is not None:
            h_n, c_n = (s.index_select(1, input.unsorted_indices) for s in (h_n, c_n))
        if unbatched:
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)

        def shaped(rows):  # (N, F) -> as nn.LSTM shapes its output
            return _shaped(rows, input, steps, batch, unbatched, self.batch_first)

        if internals is not None:
            self.internals.extend({k: shaped(v) for k, v in layer.items()} for layer in internals)
        return shaped(x), (h_n, c_n)
