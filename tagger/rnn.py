"""A hand-made Elman RNN: a drop-in for `torch.nn.RNN`, written from plain tensor operations.

Same constructor, parameter names and shapes (`weight_ih_l0`, `bias_hh_l1_reverse`), same
initialisation, same `forward(input, hx)` and outputs, dense or `PackedSequence` input, tanh or
relu, so a `state_dict` moves between the two either way. No fused recurrent op is used: the
recurrence is a Python loop over time steps, and its backward pass is written by hand.

Each layer computes, for every step t and direction,
    h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)      (or relu)

It is written the way `tagger.lstm` is, and shares its helpers (`packed_layout`, `linear`, ...):
- the input-to-hidden products of all steps are made before the loop; only the hidden-to-hidden
  product and the nonlinearity are left inside it;
- both directions advance together, the reverse one reading each sequence mirrored within its
  own length, so one `baddbmm_` serves both;
- sequences are kept packed (time-major rows, longest first): no work, and no state change, on
  padding;
- an Elman step's pre-activation has the hidden state's shape, so the input products are
  written straight into the tensor of hidden states, and each step turns its own rows into
  states in place: no buffer of pre-activations at all (the LSTM needs one for its four gates);
- a custom `autograd.Function` runs the loop without recording a graph, and its backward pass
  computes the weight gradients as one large product each after the loop.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn.utils.rnn import PackedSequence

from tagger.lstm import (LSTM, _blocks, _input_products, _onednn, _output, _previous, _shaped,
                         _stack, check_arguments, linear, packed_layout, register_weights,
                         weight_gradients)

NONLINEARITIES = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}  # nn.RNN's names -> its modes


def _forward(x, h0, W_ih, W_hh, b, layout, relu, save, table=None, products=None):
    """One layer, all directions at once, over packed rows.

    x: (N, I), or (N,) ids of rows of table (V, I) or of products (V, D, H) (inference only,
    see RNN.forward); h0: (D, B, H); W_ih: (D, H, I); W_hh: (D, H, H); b: (D, H) or None;
    relu: relu rather than tanh; save: a backward pass will follow.
    Returns the final states h_n (D, B, H) and the hidden states O (D, N, H), all the backward
    pass needs besides the inputs (the nonlinearity's derivative is read from its output).
    """
    D, H, _ = W_ih.shape
    fill = _input_products(x, table, products, W_ih, [None] * D if b is None else b, layout, 1)
    # (D, N, H): the input products are written into O, and each step turns its rows into its
    # hidden states in place, so no buffer is allocated for them (the LSTM's buffer of 4H gates
    # is why it works in blocks). The blocks are kept, as in the LSTM, so that the two loops
    # read alike: a block of steps at a time without a backward pass, one block with it (on
    # CPU, 10k rows of 2x128, they measured the same as one product per direction).
    N = x.shape[0]
    O = h0.new_empty(D, N, H)
    blocks = _blocks(layout.steps, N if save else max(1, 2**20 // (D * H)))
    # Per step, one product per direction through oneDNN when they are large; else one bmm for all.
    per_direction = _onednn(h0, h0.shape[1] * H * H)
    W_hh_t = W_hh.transpose(1, 2)  # (D, H, H)
    h = h0
    h_n = []  # final states, collected as sequences end (the shortest last)
    sizes = [size for _, size in layout.steps] + [0]
    for t0, t1, r0, r1 in blocks:
        for d in range(D):
            fill(d, r0, r1, O[d, r0:r1])
        for t in range(t0, t1):
            start, size = layout.steps[t]
            # For the `size` sequences still running at this step:
            #   h' = tanh(W_ih x + b + W_hh h)   (or relu; W_ih x + b already in O's rows)
            a = O[:, start : start + size]  # (D, size, H)
            if per_direction:
                for d in range(D):
                    a[d] = linear(h[d, :size], W_hh[d], add=a[d])
            else:
                a.baddbmm_(h[:, :size], W_hh_t)
            h = a.relu_() if relu else a.tanh_()
            if sizes[t + 1] < size:  # sequences sizes[t + 1] .. size - 1 end here
                h_n.append(h[:, sizes[t + 1] :])
    return torch.cat(h_n[::-1], dim=1), O  # (D, B, H), (D, N, H)


class _RNNLayer(torch.autograd.Function):
    """One layer with a hand-written backward pass through time."""

    @staticmethod
    def forward(ctx, x, h0, W_ih, W_hh, b, layout, relu):
        h_n, O = _forward(x, h0, W_ih, W_hh, b, layout, relu, save=True)
        ctx.layout, ctx.relu, ctx.has_bias = layout, relu, b is not None
        ctx.save_for_backward(x, h0, W_ih, W_hh, O)
        return _output(O, layout), h_n

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, dh_n):
        x, h0, W_ih, W_hh, O = ctx.saved_tensors
        layout = ctx.layout
        D, H = W_hh.shape[0], W_hh.shape[2]
        # The nonlinearity's derivative at every row, read from its output: tanh' = 1 - h²,
        # relu' = [h > 0]. M becomes dL/d(pre-activation), step by step, in place.
        M = (O > 0).to(O.dtype) if ctx.relu else torch.addcmul(O.new_ones(()), O, O, value=-1)
        d_out = torch.zeros_like(_output(O, layout)) if d_out is None else d_out
        dO = _stack([d_out[:, :H], d_out[:, H:][layout.reverse]][:D])  # (D, N, H)
        dh_n = torch.zeros_like(h0) if dh_n is None else dh_n
        per_direction = _onednn(x, h0.shape[1] * H * H)  # as in the forward pass
        # (D, H, H) for oneDNN: W_hh's rows as its weight, transposed once, not per step
        W_hh_t = W_hh.transpose(1, 2).contiguous() if per_direction else None
        dh = dh_n[:, :0]  # the state gradient of the sequences running at a step
        for start, size in reversed(layout.steps):
            if size > dh.shape[1]:  # sequences that end at this step join with their final grads
                dh = torch.cat([dh, dh_n[:, dh.shape[1] : size]], dim=1)
            # dh is always a tensor of our own here (from cat or the product), so added in place.
            da = M[:, start : start + size].mul_(dh.add_(dO[:, start : start + size]))
            dh = _stack([linear(da[d], W_hh_t[d]) for d in range(D)]) if per_direction else \
                torch.bmm(da, W_hh)  # (D, size, H)
        # M is now dL/d(pre-activation) at every row (D, N, H)
        dW_ih, dW_hh, db, dx = weight_gradients(M, x, _previous(h0, O, layout), W_ih, layout,
                                                ctx.has_bias, ctx.needs_input_grad[0])
        return dx, dh, dW_ih, dW_hh, db, None, None


class RNN(nn.Module):
    """Drop-in for `torch.nn.RNN` (see its documentation).

    `internals`: None, or a list to which every forward pass appends, for each layer in order,
    {"h": that layer's hidden states}, detached and shaped as the output is."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__()
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. "
                             "Select from 'tanh' or 'relu'.")
        check_arguments(hidden_size, num_layers, dropout)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, 0
        self.nonlinearity, self.mode = nonlinearity, NONLINEARITIES[nonlinearity]
        self.internals = None  # a list to record each layer's states in (see the class)
        register_weights(self, 1, {"device": device, "dtype": dtype})
        self.reset_parameters()

    # The LSTM's own: nothing in them depends on the number of gates (nn.RNN's repr, too, is nn.LSTM's:
    # it does not name the nonlinearity).
    reset_parameters = LSTM.reset_parameters
    flatten_parameters = LSTM.flatten_parameters
    extra_repr = LSTM.extra_repr
    _layer_weights = LSTM._layer_weights
    _check_input = LSTM._check_input
    _read_input = LSTM._read_input

    def _rows(self, input):
        """The input as packed rows: (x (N, I), batch sizes, steps (None if packed), unbatched)."""
        if not isinstance(input, PackedSequence) and input.dim() not in (2, 3):
            raise ValueError(f"RNN: Expected input to be 2D or 3D, got {input.dim()}D tensor "
                             "instead")
        return LSTM._rows(self, input)

    def _initial_state(self, hx, input, vectors, batch, unbatched):
        """h0 (L*D, B, H), in the packed (sorted) batch order: zeros like `vectors` without hx."""
        directions = 2 if self.bidirectional else 1
        if hx is None:
            return vectors.new_zeros(self.num_layers * directions, batch, self.hidden_size)
        dims = 2 if unbatched else 3  # nn.RNN's own check, before the sizes
        if not isinstance(input, PackedSequence) and hx.dim() != dims:
            raise RuntimeError(f"For {'unbatched 2-D' if unbatched else 'batched 3-D'} input, hx "
                               f"should also be {dims}-D but got {hx.dim()}-D tensor")
        expected = (self.num_layers * directions, self.hidden_size) if unbatched else \
            (self.num_layers * directions, batch, self.hidden_size)
        if tuple(hx.shape) != expected:
            raise RuntimeError(f"Expected hidden size {expected}, got {list(hx.shape)}")
        if unbatched:
            return hx.unsqueeze(1)
        if isinstance(input, PackedSequence) and input.sorted_indices is not None:
            return hx.index_select(1, input.sorted_indices)
        return hx

    def input_products(self, rows):
        """What the first layer adds to each direction's pre-activation for each of these input
        rows: W_ih x + b_ih + b_hh, (V, input_size) -> (V, D, H); for
        `forward(ids, products=...)`."""
        return LSTM.input_products(self, rows)

    def forward(self, input, hx=None, table=None, products=None):
        """As nn.RNN's forward, with the two additions of `tagger.lstm.LSTM.forward`:
        - `table` (V, input_size): `input` holds ids of the table's rows where it would hold
          vectors, and the RNN reads table[ids], as `nn.RNN(nn.Embedding(...)(ids))` would;
          without a backward pass the first layer's input product is made once per row.
        - `products` (V, D, H), from `input_products(table)` made before (inference only)."""
        input, x, vectors, batch_sizes, steps, unbatched = self._read_input(input, table, products)
        packed = isinstance(input, PackedSequence)

        directions = 2 if self.bidirectional else 1
        h0 = self._initial_state(hx, input, vectors, int(batch_sizes[0]), unbatched)
        layout = packed_layout(batch_sizes, x.device)
        record = torch.is_grad_enabled() and (vectors.requires_grad or h0.requires_grad or
                                              any(p.requires_grad for p in self.parameters()))
        if record and products is not None:
            raise RuntimeError("RNN products= is for inference; give table= to train")
        if record and table is not None:  # the backward pass reads the input's rows one by one
            x, table = F.embedding(x, table), None
        relu = self.mode == "RNN_RELU"
        h_n, internals = [], self.internals

        def shaped(rows):  # (N, D*H) -> as nn.RNN shapes its output
            return _shaped(rows, input, steps, int(batch_sizes[0]), unbatched, self.batch_first)

        for layer in range(self.num_layers):
            W_ih, W_hh, b = self._layer_weights(layer)
            h0_l = h0[layer * directions : (layer + 1) * directions]  # (D, B, H)
            if record:
                x, h_l = _RNNLayer.apply(x, h0_l, W_ih, W_hh, b, layout, relu)
            else:
                h_l, O = _forward(x, h0_l, W_ih, W_hh, b, layout, relu, save=False, table=table,
                                  products=products)
                x, table, products = _output(O, layout), None, None
            h_n.append(h_l)
            if internals is not None:  # the layer's states before dropout, as nn.RNN's are
                internals.append({"h": shaped(x.detach())})
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)

        h_n = torch.cat(h_n)  # (L*D, B, H)
        if packed and input.unsorted_indices is not None:
            h_n = h_n.index_select(1, input.unsorted_indices)
        return shaped(x), (h_n.squeeze(1) if unbatched else h_n)
