"""A hand-made LSTM: a drop-in for `torch.nn.LSTM`, written from plain tensor operations.

Same constructor, parameter names and shapes (`weight_ih_l0`, `bias_hh_l1_reverse`, gates ordered
i, f, g, o), same initialisation, same `forward(input, hx)` and outputs, dense or `PackedSequence`
input, so a `state_dict` moves between the two either way. No fused recurrent op is used: the
recurrence is a Python loop over time steps, and its backward pass is written by hand.

Why it is about as fast as `nn.LSTM` (by design, not by accident):
- the input-to-hidden products of all time steps are one batched matrix multiply before the loop;
  only the hidden-to-hidden product is left inside it;
- both directions advance together, as one `bmm` per step over stacked weights; the reverse
  direction reads each sequence mirrored within its own length, so both walk the same rows;
- sequences are kept packed (time-major rows, longest first), so a step only touches the sequences
  still running: no work, and no state change, on padding;
- a custom `autograd.Function` runs the loop without recording a graph, saves the gate activations,
  and in backward accumulates the hidden-to-hidden weight gradient as one large multiply after the
  loop instead of one per step.
"""

import math
import warnings
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
    last: torch.Tensor  # (B,) row of each sequence's last step


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
    last = offsets[lengths - 1] + torch.arange(batch)
    steps = list(zip(offsets.tolist(), sizes))
    return Layout(steps, reverse.to(device), prev.to(device), last.to(device))


def _tanh(x, out=None):
    """tanh(x) as 2σ(2x) - 1: the same function within float rounding, and about twice as fast as
    torch.tanh on CPU, whose float32 kernel is several times slower than its sigmoid."""
    return torch.mul(x, 2, out=out).sigmoid_().mul_(2).sub_(1)


def _recurrence(G, h0, c0, W_hh, steps, save):
    """Run the recurrence over packed rows for D directions at once.

    G: (D, N, 4H) input contributions W_ih x + b for every row; h0, c0: (D, B, H); W_hh: (D, 4H, H).
    Returns the gate activations A (D, N, 4H), the cells C and hidden states O (D, N, H), and
    tanh(C) when `save` (the backward pass needs it).
    """
    D, N, H4 = G.shape
    H = H4 // 4
    W_hh_t = W_hh.transpose(1, 2)  # (D, H, 4H)
    A = torch.empty_like(G)
    C = G.new_empty(D, N, H)
    O = G.new_empty(D, N, H)
    TC = G.new_empty(D, N, H) if save else None
    h, c = h0, c0
    for start, size in steps:
        s = slice(start, start + size)
        # The LSTM, for the `size` sequences still running at this step:
        #   i, f, g, o = σ(W_ii x + W_hi h + b_i), σ(... f), tanh(... g), σ(... o)
        #   c' = f ⊙ c + i ⊙ g
        #   h' = o ⊙ tanh(c')
        a = A[:, s]  # (D, size, 4H)
        torch.baddbmm(G[:, s], h[:, :size], W_hh_t, out=a)
        i, f, g, o = a.chunk(4, dim=-1)  # each (D, size, H)
        g.mul_(2)  # one sigmoid over all four gates: tanh(x) = 2σ(2x) - 1
        a.sigmoid_()
        g.mul_(2).sub_(1)
        c_new = torch.mul(f, c[:, :size], out=C[:, s]).addcmul_(i, g)
        tc = _tanh(c_new, out=TC[:, s] if save else None)
        h = torch.mul(o, tc, out=O[:, s])
        c = c_new
    return A, C, O, TC


class _LSTMRecurrence(torch.autograd.Function):
    """The recurrence with a hand-written backward pass through time."""

    @staticmethod
    def forward(ctx, G, h0, c0, W_hh, layout):
        A, C, O, TC = _recurrence(G, h0, c0, W_hh, layout.steps, save=True)
        ctx.layout = layout
        ctx.save_for_backward(A, C, O, TC, h0, c0, W_hh)
        return O, O[:, layout.last], C[:, layout.last]

    @staticmethod
    @once_differentiable
    def backward(ctx, dO, dh_n, dc_n):
        A, C, O, TC, h0, c0, W_hh = ctx.saved_tensors
        layout = ctx.layout
        i, f, g, o = A.chunk(4, dim=-1)  # (D, N, H) each
        h_prev = torch.cat([h0, O], dim=1)[:, layout.prev]  # (D, N, H)
        c_prev = torch.cat([c0, C], dim=1)[:, layout.prev]
        # dL/d(pre-activation) = (dc, dc, dc, dh) ⊙ M, with M gathered for all steps at once:
        # the value each gate multiplies, times the gate's own derivative (σ' = σ(1-σ), tanh' = 1-tanh²).
        M = torch.cat([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g), TC * o * (1 - o)], -1)
        P = o * (1 - TC * TC)  # dc'/dh' through h' = o ⊙ tanh(c')
        dO = torch.zeros_like(O) if dO is None else dO
        # Running gradients of each sequence's state, seeded with those of its final state: a
        # sequence's rows are untouched until the backward loop reaches its last step.
        dh = torch.zeros_like(h0) if dh_n is None else dh_n.clone()  # (D, B, H)
        dc = torch.zeros_like(c0) if dc_n is None else dc_n.clone()
        dA = torch.empty_like(A)  # (D, N, 4H)
        for start, size in reversed(layout.steps):
            s = slice(start, start + size)
            dh_s = dO[:, s] + dh[:, :size]
            dc_s = torch.addcmul(dc[:, :size], dh_s, P[:, s])
            da = torch.mul(torch.cat([dc_s, dc_s, dc_s, dh_s], -1), M[:, s], out=dA[:, s])
            torch.mul(dc_s, f[:, s], out=dc[:, :size])
            torch.bmm(da, W_hh, out=dh[:, :size])
        # One large multiply instead of one per step.
        dW_hh = torch.bmm(dA.transpose(1, 2), h_prev)  # (D, 4H, H)
        return dA, dh, dc, dW_hh, None


class LSTM(nn.Module):
    """Drop-in for `torch.nn.LSTM` (see its documentation); `proj_size` is not supported."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if proj_size != 0:
            raise ValueError("proj_size is not supported by tagger.lstm.LSTM; use proj_size=0")
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError("hidden_size and num_layers must be greater than 0")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          f"non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        self.mode = "LSTM"
        factory = {"device": device, "dtype": dtype}
        directions = 2 if bidirectional else 1
        # Registered in nn.LSTM's order, so the same seed initialises the same numbers.
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for suffix in ["", "_reverse"][:directions]:
                shapes = {"weight_ih": (4 * hidden_size, layer_input),
                          "weight_hh": (4 * hidden_size, hidden_size)}
                if bias:
                    shapes |= {"bias_ih": (4 * hidden_size,), "bias_hh": (4 * hidden_size,)}
                for name, shape in shapes.items():
                    self.register_parameter(f"{name}_l{layer}{suffix}",
                                            nn.Parameter(torch.empty(shape, **factory)))
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

    def forward(self, input, hx=None):
        packed = isinstance(input, PackedSequence)
        unbatched = False
        if packed:
            x, batch_sizes = input.data, input.batch_sizes  # x: (N, I)
            batch = int(batch_sizes[0])
        else:
            if input.dim() not in (2, 3):
                raise ValueError(f"LSTM: Expected input to be 2D or 3D, got {input.dim()}D instead")
            unbatched = input.dim() == 2
            seq = input.unsqueeze(1) if unbatched else \
                (input.transpose(0, 1) if self.batch_first else input)  # (T, B, I)
            steps, batch = seq.shape[:2]
            x = seq.reshape(steps * batch, -1)
            batch_sizes = torch.full((steps,), batch, dtype=torch.long)
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. "
                               f"Expected {self.input_size}, got {x.shape[-1]}")

        directions = 2 if self.bidirectional else 1
        if hx is None:
            zeros = x.new_zeros(self.num_layers * directions, batch, self.hidden_size)
            h0, c0 = zeros, zeros
        else:
            self._check_hidden(hx, batch, unbatched)
            h0, c0 = (s.unsqueeze(1) for s in hx) if unbatched else hx
            if packed and input.sorted_indices is not None:  # the states follow the sorted batch
                h0, c0 = (s.index_select(1, input.sorted_indices) for s in (h0, c0))

        layout = packed_layout(batch_sizes, x.device)
        record = torch.is_grad_enabled() and (x.requires_grad or h0.requires_grad or
                                              c0.requires_grad or any(p.requires_grad
                                                                      for p in self.parameters()))
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            W_ih, W_hh, b = self._layer_weights(layer)
            if self.bidirectional:  # the reverse direction reads each sequence mirrored
                xs = torch.stack([x, x[layout.reverse]])  # (2, N, I)
            else:
                xs = x.unsqueeze(0)  # (1, N, I)
            W_ih_t = W_ih.transpose(1, 2)  # (D, I, 4H)
            G = torch.baddbmm(b.unsqueeze(1), xs, W_ih_t) if b is not None else torch.bmm(xs, W_ih_t)
            layer_states = slice(layer * directions, (layer + 1) * directions)
            h0_l, c0_l = h0[layer_states], c0[layer_states]  # (D, B, H)
            if record:
                O, h_l, c_l = _LSTMRecurrence.apply(G, h0_l, c0_l, W_hh, layout)
            else:
                _, C, O, _ = _recurrence(G, h0_l, c0_l, W_hh, layout.steps, save=False)
                h_l, c_l = O[:, layout.last], C[:, layout.last]
            h_n.append(h_l)
            c_n.append(c_l)
            # Back to each sequence's own time order: (N, D*H).
            x = torch.cat([O[0], O[1][layout.reverse]], dim=1) if self.bidirectional else O[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)

        h_n, c_n = torch.cat(h_n), torch.cat(c_n)  # (L*D, B, H)
        if packed:
            if input.unsorted_indices is not None:
                h_n, c_n = (s.index_select(1, input.unsorted_indices) for s in (h_n, c_n))
            return PackedSequence(x, batch_sizes, input.sorted_indices, input.unsorted_indices), (h_n, c_n)
        output = x.view(steps, batch, -1)  # (T, B, D*H)
        if unbatched:
            return output.squeeze(1), (h_n.squeeze(1), c_n.squeeze(1))
        return (output.transpose(0, 1) if self.batch_first else output), (h_n, c_n)
