"""tagger.rnn.RNN against torch.nn.RNN: same parameters, outputs, final states and gradients."""

import itertools
import random

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from conftest import (DEVICES, TOLERANCE, check_dropout_between_layers_only_in_training,
                     check_ids_read_as_rows, check_state_dict_moves_both_ways, fused_ops,
                     outputs_and_grads, reference_pair)
from tagger.lstm import packed_layout
from tagger.rnn import RNN, _RNNLayer



def pair(seed, dtype=torch.float64, device="cpu", **kwargs):
    """An nn.RNN and a hand-made RNN with the nn.RNN's weights."""
    return reference_pair(nn.RNN, RNN, seed, dtype, device, **kwargs)


run = outputs_and_grads  # output (padded), h_n and the gradients of a loss touching both


# Every third of the full product: 32 cases, in which every pair of values of any two of the
# six factors still meets.
CASES = list(itertools.product([1, 2, 3], [False, True], [False, True], [False, True],
                               [False, True], ["tanh", "relu"]))[::3]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("layers,bidirectional,batch_first,packed,with_hx,nonlinearity", CASES)
def test_matches_nn_rnn(layers, bidirectional, batch_first, packed, with_hx, nonlinearity, dtype,
                        device):
    rng = random.Random(hash((layers, bidirectional, batch_first, packed, with_hx, nonlinearity)))
    I, H, B, T = rng.randint(1, 9), rng.randint(1, 9), rng.randint(1, 6), rng.randint(1, 8)
    kwargs = dict(input_size=I, hidden_size=H, num_layers=layers, batch_first=batch_first,
                  bidirectional=bidirectional, bias=rng.random() < 0.8, nonlinearity=nonlinearity)
    ref, mine = pair(rng.randint(0, 10**6), dtype, device, **kwargs)
    torch.manual_seed(rng.randint(0, 10**6))
    x = torch.randn((B, T, I) if batch_first else (T, B, I), dtype=dtype, device=device,
                    requires_grad=True)
    lengths = torch.randint(1, T + 1, (B,)) if packed else None
    hx = None
    if with_hx:
        shape = (layers * (2 if bidirectional else 1), B, H)
        hx = torch.randn(shape, dtype=dtype, device=device, requires_grad=True)
    expected = run(ref, x, lengths, hx, batch_first)
    got = run(mine, x, lengths, hx, batch_first)
    names = ["output", "h_n", "d input"] + (["d h0"] if hx is not None else []) + \
        [f"d {n}" for n, _ in mine.named_parameters()]
    assert len(names) == len(got) == len(expected)
    for name, e, g in zip(names, expected, got):
        assert g.shape == e.shape, name
        assert torch.allclose(g, e, atol=TOLERANCE[dtype], rtol=0), \
            f"{name}: max error {(g - e).abs().max().item():.2e}"


@pytest.mark.parametrize("nonlinearity, bias", [("tanh", True), ("relu", False)])
def test_parameters_named_shaped_and_initialised_as_nn_rnn(nonlinearity, bias):
    kwargs = dict(input_size=7, hidden_size=5, num_layers=3, bidirectional=True,
                  nonlinearity=nonlinearity, bias=bias)
    torch.manual_seed(3)
    ref = nn.RNN(**kwargs)
    torch.manual_seed(3)
    mine = RNN(**kwargs)
    assert [(n, p.shape) for n, p in mine.named_parameters()] == \
        [(n, p.shape) for n, p in ref.named_parameters()]
    for (n, p), q in zip(mine.named_parameters(), ref.parameters()):
        assert torch.equal(p, q), n  # same seed, same numbers: same init, same order
    assert repr(mine) == repr(ref)
    assert (mine.mode, mine.nonlinearity, mine.proj_size) == (ref.mode, ref.nonlinearity, 0)
    # nonlinearity is the fourth positional argument, as in nn.RNN
    assert RNN(3, 4, 2, "relu").mode == nn.RNN(3, 4, 2, "relu").mode == "RNN_RELU"


def test_state_dict_moves_both_ways():
    check_state_dict_moves_both_ways(nn.RNN, RNN, input_size=4, hidden_size=3, num_layers=2,
                                     bidirectional=True, batch_first=True, nonlinearity="relu")


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_inference_without_graph_matches(mode):
    ref, mine = pair(0, torch.float32, input_size=6, hidden_size=4, num_layers=2,
                     bidirectional=True)
    x = torch.randn(5, 3, 6)
    packed = pack_padded_sequence(x, torch.tensor([5, 2, 4]), enforce_sorted=False)
    hx = torch.randn(4, 3, 4)
    data = lambda t: t.data if isinstance(t, PackedSequence) else t  # noqa: E731
    for inp in (x, packed):
        graph = mine(inp, hx)
        assert graph[1].requires_grad  # the graph path, as a reference
        context = torch.no_grad() if mode == "no_grad" else torch.inference_mode()
        with context:
            e, eh = ref(inp, hx)
            g, gh = mine(inp, hx)
        assert not gh.requires_grad
        for a, b in ((e, g), (eh, gh), (graph[0], g), (graph[1], gh)):
            assert torch.allclose(data(a), data(b), atol=1e-5)


@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_input(batch_first):
    ref, mine = pair(1, input_size=3, hidden_size=2, num_layers=2, bidirectional=True,
                     batch_first=batch_first)
    x = torch.randn(4, 3, dtype=torch.float64)
    for hx in (None, torch.randn(4, 2, dtype=torch.float64)):
        (e, eh), (g, gh) = ref(x, hx), mine(x, hx)
        assert g.shape == e.shape == (4, 4) and gh.shape == eh.shape == (4, 2)
        assert torch.allclose(g, e, atol=1e-10) and torch.allclose(gh, eh, atol=1e-10)


def test_padding_never_changes_the_state():
    """A sequence's results do not depend on how much padding follows it."""
    _, mine = pair(2, input_size=3, hidden_size=4, bidirectional=True, batch_first=True)
    x = torch.randn(1, 3, 3, dtype=torch.float64)
    padded = torch.cat([x, torch.randn(1, 5, 3, dtype=torch.float64)], dim=1)
    alone, h1 = mine(x)
    with_pad, h2 = mine(pack_padded_sequence(padded, torch.tensor([3]), batch_first=True))
    with_pad, _ = pad_packed_sequence(with_pad, batch_first=True)
    assert torch.allclose(alone, with_pad, atol=1e-12)
    assert torch.allclose(h1, h2, atol=1e-12)


def test_dropout_between_layers_only_in_training():
    check_dropout_between_layers_only_in_training(nn.RNN, RNN)
    with pytest.warns(UserWarning, match="num_layers greater than 1, but got dropout=0.5"):
        RNN(3, 4, dropout=0.5)
    with pytest.raises(ValueError, match=r"dropout should be a number in range \[0, 1\]"):
        RNN(3, 4, num_layers=2, dropout=1.5)


def test_errors_name_expected_and_actual_sizes():
    mine = RNN(100, 8, bidirectional=True)
    with pytest.raises(RuntimeError, match="Expected 100, got 64"):
        mine(torch.randn(3, 2, 64))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(2, 2, 8\), got \[1, 2, 8\]"):
        mine(torch.randn(3, 2, 100), torch.zeros(1, 2, 8))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(2, 8\), got \[2, 7\]"):
        mine(torch.randn(3, 100), torch.zeros(2, 7))
    with pytest.raises(RuntimeError, match="hx should also be 3-D but got 2-D tensor"):
        mine(torch.randn(3, 2, 100), torch.zeros(2, 8))
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D, got 4D tensor instead"):
        mine(torch.randn(3, 2, 1, 100))
    with pytest.raises(RuntimeError, match=r"products must be \(V, 2, 8\).*got \[5, 2, 32\]"):
        with torch.no_grad():
            mine(torch.zeros(3, 2, dtype=torch.long), products=torch.zeros(5, 2, 32))
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'. Select from 'tanh' or"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size and num_layers must be greater than 0"):
        RNN(3, 0)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_hand_written_backward_passes_gradcheck(relu, bias):
    torch.manual_seed(0)
    D, B, H, I = 2, 3, 2, 3
    layout = packed_layout(torch.tensor([3, 3, 1]), "cpu")  # lengths 3, 2, 2
    N = 7

    def arg(*shape):
        return torch.randn(*shape, dtype=torch.float64, requires_grad=True)

    args = [arg(N, I), arg(D, B, H), arg(D, H, I), arg(D, H, H), arg(D, H) if bias else None]
    assert torch.autograd.gradcheck(lambda *a: _RNNLayer.apply(*a, layout, relu), args)


def test_no_fused_recurrent_op_runs():
    """Every op the forward and backward passes run is profiled: none is an RNN kernel."""
    for nonlinearity in ("tanh", "relu"):
        kwargs = dict(num_layers=2, bidirectional=True, nonlinearity=nonlinearity)
        assert f"aten::rnn_{nonlinearity}" in fused_ops(nn.RNN(3, 4, **kwargs))  # can see one
        assert not fused_ops(RNN(3, 4, **kwargs))


@pytest.mark.filterwarnings("ignore:TF32 acceleration")
@pytest.mark.parametrize("packed", [False, True])
def test_onednn_product_path_matches_nn_rnn(packed, monkeypatch):
    """Small sizes take the bmm path; force the one of a product per direction through oneDNN."""
    import tagger.lstm

    if not hasattr(torch.ops.mkldnn, "_linear_pointwise"):
        pytest.skip("this torch has no oneDNN linear")
    monkeypatch.setattr(tagger.lstm, "ONEDNN_MIN_MACS", 0)
    monkeypatch.setattr(tagger.lstm, "_ONEDNN", True)  # also where the CPU has no AVX-512
    ref, mine = pair(5, torch.float32, input_size=6, hidden_size=5, num_layers=2,
                     bidirectional=True)
    x = torch.randn(7, 3, 6, requires_grad=True)
    lengths = torch.tensor([7, 2, 5]) if packed else None
    for e, g in zip(run(ref, x, lengths, None, False), run(mine, x, lengths, None, False)):
        assert torch.allclose(g, e, atol=1e-5, rtol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("rows", [3, 40])  # fewer rows than positions, and more (read as used)
@pytest.mark.parametrize("layers,bidirectional,batch_first,packed,nonlinearity",
                         [(1, True, True, True, "tanh"), (2, False, False, False, "relu"),
                          (2, True, False, True, "relu")])
def test_ids_of_a_table_read_as_nn_rnn_reads_the_rows(layers, bidirectional, batch_first, packed,
                                                      nonlinearity, rows, device):
    """rnn(ids, table=E) is nn.RNN(E[ids]): outputs and states without a backward pass (where
    each row's input product is made once, or given as products=), and gradients, the table's
    included, with one."""
    ref, mine = pair(3, torch.float64, device, input_size=4, hidden_size=5, num_layers=layers,
                     bidirectional=bidirectional, batch_first=batch_first,
                     nonlinearity=nonlinearity)
    check_ids_read_as_rows(ref, mine, rows, batch_first, packed, device)


@pytest.mark.parametrize("grad", [True, False])  # the graph path, and the one without
@pytest.mark.parametrize("form", ["dense", "batch_first", "unbatched", "packed"])
def test_internals_record_each_layers_states(form, grad):
    """With `internals = []`, each forward pass appends each layer's hidden states, shaped as
    the output: layer 0's are a 1-layer nn.RNN's output with its weights, the last layer's are
    the module's output."""
    kwargs = dict(input_size=3, hidden_size=4, bidirectional=True, nonlinearity="relu",
                  batch_first=form == "batch_first")
    torch.manual_seed(4)
    mine = RNN(num_layers=2, **kwargs).double()
    first = nn.RNN(num_layers=1, **kwargs).double()
    first.load_state_dict({k: v for k, v in mine.state_dict().items() if "_l0" in k})
    x = torch.randn(*{"batch_first": (3, 5, 3), "unbatched": (5, 3)}.get(form, (5, 3, 3)),
                    dtype=torch.float64, requires_grad=grad)
    if form == "packed":
        x = pack_padded_sequence(x, torch.tensor([5, 2, 4]), enforce_sorted=False)
    data = lambda t: t.data if isinstance(t, PackedSequence) else t  # noqa: E731

    mine.internals = []
    with torch.set_grad_enabled(grad):
        out, _ = mine(x)
        out, _ = mine(x)  # every pass appends
    assert [list(layer) for layer in mine.internals] == [["h"], ["h"]] * 2
    layer0, layer1 = (entry["h"] for entry in mine.internals[2:])
    assert not data(layer0).requires_grad and not data(layer1).requires_grad
    assert data(out).requires_grad == grad
    expected0 = first(x)[0]
    for got, expected in ((layer0, expected0), (layer1, out)):
        assert type(got) is type(expected)
        if isinstance(got, PackedSequence):
            for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
                assert torch.equal(getattr(got, field), getattr(expected, field))
        assert data(got).shape == data(expected).shape
        assert torch.allclose(data(got), data(expected), atol=1e-12)

    mine.internals = None
    with torch.set_grad_enabled(grad):
        again, _ = mine(x)
    assert mine.internals is None
    assert torch.equal(data(again), data(out))
