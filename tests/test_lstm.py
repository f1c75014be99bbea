"""tagger.lstm.LSTM against torch.nn.LSTM: same parameters, outputs, final states and gradients."""

import itertools
import os
import random
import subprocess
import sys

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from conftest import (DEVICES, TOLERANCE, check_dropout_between_layers_only_in_training,
                     check_ids_read_as_rows, check_state_dict_moves_both_ways, fused_ops,
                     lstm_equations, outputs_and_grads, reference_pair)
from tagger.lstm import LSTM, _LSTMLayer, packed_layout, record



def pair(seed, dtype=torch.float64, device="cpu", **kwargs):
    """An nn.LSTM and a hand-made LSTM with the nn.LSTM's weights."""
    return reference_pair(nn.LSTM, LSTM, seed, dtype, device, **kwargs)


run = outputs_and_grads  # output (padded), h_n, c_n and the gradients of a loss touching all three


CASES = list(itertools.product([1, 2, 3], [False, True], [False, True], [False, True], [False, True]))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("layers,bidirectional,batch_first,packed,with_hx", CASES)
def test_matches_nn_lstm(layers, bidirectional, batch_first, packed, with_hx, dtype, device):
    rng = random.Random(hash((layers, bidirectional, batch_first, packed, with_hx)))
    I, H, B, T = rng.randint(1, 9), rng.randint(1, 9), rng.randint(1, 6), rng.randint(1, 8)
    kwargs = dict(input_size=I, hidden_size=H, num_layers=layers, batch_first=batch_first,
                  bidirectional=bidirectional, bias=rng.random() < 0.8)
    ref, mine = pair(rng.randint(0, 10**6), dtype, device, **kwargs)
    torch.manual_seed(rng.randint(0, 10**6))
    x = torch.randn((B, T, I) if batch_first else (T, B, I), dtype=dtype, device=device,
                    requires_grad=True)
    lengths = torch.randint(1, T + 1, (B,)) if packed else None
    hx = None
    if with_hx:
        shape = (layers * (2 if bidirectional else 1), B, H)
        hx = tuple(torch.randn(shape, dtype=dtype, device=device, requires_grad=True)
                   for _ in range(2))
    expected = run(ref, x, lengths, hx, batch_first)
    got = run(mine, x, lengths, hx, batch_first)
    names = ["output", "h_n", "c_n", "d input"] + (["d h0", "d c0"] if hx else []) + \
        [f"d {n}" for n, _ in mine.named_parameters()]
    for name, e, g in zip(names, expected, got):
        assert g.shape == e.shape, name
        assert torch.allclose(g, e, atol=TOLERANCE[dtype], rtol=0), \
            f"{name}: max error {(g - e).abs().max().item():.2e}"


def test_parameters_named_shaped_and_initialised_as_nn_lstm():
    kwargs = dict(input_size=7, hidden_size=5, num_layers=3, bidirectional=True)
    torch.manual_seed(3)
    ref = nn.LSTM(**kwargs)
    torch.manual_seed(3)
    mine = LSTM(**kwargs)
    assert [(n, p.shape) for n, p in mine.named_parameters()] == \
        [(n, p.shape) for n, p in ref.named_parameters()]
    for (n, p), q in zip(mine.named_parameters(), ref.parameters()):
        assert torch.equal(p, q), n  # same seed, same numbers: same init, same order
    assert repr(mine) == repr(ref)


def test_state_dict_moves_both_ways():
    check_state_dict_moves_both_ways(nn.LSTM, LSTM, input_size=4, hidden_size=3, num_layers=2,
                                     bidirectional=True, batch_first=True)


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_inference_without_graph_matches(mode):
    ref, mine = pair(0, torch.float32, input_size=6, hidden_size=4, num_layers=2,
                     bidirectional=True)
    x = torch.randn(5, 3, 6)
    context = torch.no_grad() if mode == "no_grad" else torch.inference_mode()
    with context:
        packed = pack_padded_sequence(x, torch.tensor([5, 2, 4]), enforce_sorted=False)
        for inp in (x, packed):
            e, (eh, ec) = ref(inp)
            g, (gh, gc) = mine(inp)
            e, g = (t.data if isinstance(t, nn.utils.rnn.PackedSequence) else t for t in (e, g))
            for a, b in ((e, g), (eh, gh), (ec, gc)):
                assert torch.allclose(a, b, atol=1e-5)


def test_unbatched_input():
    ref, mine = pair(1, input_size=3, hidden_size=2, bidirectional=True)
    x = torch.randn(4, 3, dtype=torch.float64)
    hx = (torch.randn(2, 2, dtype=torch.float64), torch.randn(2, 2, dtype=torch.float64))
    for a, b in zip(ref(x, hx)[0:1] + ref(x, hx)[1], mine(x, hx)[0:1] + mine(x, hx)[1]):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-10)


def test_padding_never_changes_the_state():
    """A sequence's results do not depend on how much padding follows it."""
    _, mine = pair(2, input_size=3, hidden_size=4, bidirectional=True, batch_first=True)
    x = torch.randn(1, 3, 3, dtype=torch.float64)
    padded = torch.cat([x, torch.randn(1, 5, 3, dtype=torch.float64)], dim=1)
    alone, (h1, c1) = mine(x)
    with_pad, (h2, c2) = mine(pack_padded_sequence(padded, torch.tensor([3]), batch_first=True))
    with_pad, _ = pad_packed_sequence(with_pad, batch_first=True)
    assert torch.allclose(alone, with_pad, atol=1e-12)
    assert torch.allclose(h1, h2, atol=1e-12) and torch.allclose(c1, c2, atol=1e-12)


def test_dropout_between_layers_only_in_training():
    check_dropout_between_layers_only_in_training(nn.LSTM, LSTM)


def test_errors_name_expected_and_actual_sizes():
    mine = LSTM(100, 8, bidirectional=True)
    with pytest.raises(RuntimeError, match="Expected 100, got 64"):
        mine(torch.randn(3, 2, 64))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(2, 2, 8\), got \[1, 2, 8\]"):
        mine(torch.randn(3, 2, 100), (torch.zeros(1, 2, 8), torch.zeros(1, 2, 8)))
    with pytest.raises(ValueError, match="proj_size"):
        LSTM(3, 4, proj_size=2)


def test_hand_written_backward_passes_gradcheck():
    torch.manual_seed(0)
    D, B, H, I = 2, 3, 2, 3
    layout = packed_layout(torch.tensor([3, 3, 1]), "cpu")  # lengths 3, 2, 2
    N = 7

    def arg(*shape):
        return torch.randn(*shape, dtype=torch.float64, requires_grad=True)

    args = [arg(N, I), arg(D, B, H), arg(D, B, H), arg(D, 4 * H, I), arg(D, 4 * H, H), arg(D, 4 * H)]
    assert torch.autograd.gradcheck(lambda *a: _LSTMLayer.apply(*a, layout), args)


def test_no_fused_recurrent_op_runs():
    """Every op the forward and backward passes run is profiled: none is an RNN kernel."""
    assert fused_ops(nn.LSTM(3, 4, num_layers=2, bidirectional=True))  # the check can see one
    assert not fused_ops(LSTM(3, 4, num_layers=2, bidirectional=True))


@pytest.mark.parametrize("value, path", [(None, "BLAS addmm"), ("0", "BLAS addmm"),
                                         ("1", "oneDNN for large products")])
def test_onednn_is_chosen_by_the_environment_alone(value, path):
    """Off unless TAGGER_ONEDNN=1, whatever the CPU; what --timing reports says which."""
    env = {k: v for k, v in os.environ.items() if k != "TAGGER_ONEDNN"}
    if value is not None:
        env["TAGGER_ONEDNN"] = value
    code = "import tagger.lstm as L; print(L._ONEDNN, L.products())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    if path.startswith("oneDNN") and not hasattr(torch.ops.mkldnn, "_linear_pointwise"):
        pytest.skip("this torch has no oneDNN linear")
    assert out.startswith(f"{path.startswith('oneDNN')} {path} (")
    assert torch.backends.cpu.get_cpu_capability() in out


@pytest.mark.filterwarnings("ignore:TF32 acceleration")
@pytest.mark.parametrize("products", ["oneDNN for all", "oneDNN off"])
@pytest.mark.parametrize("packed", [False, True])
def test_both_product_paths_match_nn_lstm(packed, products, monkeypatch):
    """Small sizes take one path; force each one, whatever the size."""
    import tagger.lstm

    if products == "oneDNN for all":
        if not hasattr(torch.ops.mkldnn, "_linear_pointwise"):
            pytest.skip("this torch has no oneDNN linear")
        monkeypatch.setattr(tagger.lstm, "ONEDNN_MIN_MACS", 0)
        monkeypatch.setattr(tagger.lstm, "_ONEDNN", True)  # also where the CPU has no AVX-512
    ref, mine = pair(5, torch.float32, input_size=6, hidden_size=5, num_layers=2,
                     bidirectional=True)
    x = torch.randn(7, 3, 6, requires_grad=True)
    lengths = torch.tensor([7, 2, 5]) if packed else None
    expected = run(ref, x, lengths, None, False)
    with torch.backends.mkldnn.flags(enabled=products != "oneDNN off"):
        got = run(mine, x, lengths, None, False)
    for e, g in zip(expected, got):
        assert torch.allclose(g, e, atol=1e-5, rtol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("rows", [3, 40])  # fewer rows than positions, and more (read as used)
@pytest.mark.parametrize("layers,bidirectional,batch_first,packed",
                         [(1, True, True, True), (2, False, False, False), (1, False, True, False),
                          (2, True, False, True)])
def test_ids_of_a_table_read_as_nn_lstm_reads_the_rows(layers, bidirectional, batch_first, packed,
                                                       rows, device):
    """lstm(ids, table=E) is nn.LSTM(E[ids]): outputs and states without a backward pass (where
    each row's input product is made once, or given as products=), and gradients, the table's
    included, with one."""
    ref, mine = pair(3, torch.float64, device, input_size=4, hidden_size=5, num_layers=layers,
                     bidirectional=bidirectional, batch_first=batch_first)
    check_ids_read_as_rows(ref, mine, rows, batch_first, packed, device)


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("layers,bidirectional,batch_first,packed",
                         [(1, True, True, True), (2, True, False, True), (2, False, True, False),
                          (1, False, False, False)])
def test_recorded_internals_are_the_lstm_equations_on_nn_lstm_weights(layers, bidirectional,
                                                                     batch_first, packed, grad):
    """What `record` reads from the pass itself equals the gates and states recomputed from the
    weights (nn.LSTM's, loaded into the hand-made LSTM), with and without a backward pass, and
    the output is the same as without recording."""
    ref, mine = pair(5, input_size=3, hidden_size=4, num_layers=layers,
                     bidirectional=bidirectional, batch_first=batch_first)
    x = torch.randn(3, 5, 3, dtype=torch.float64)  # (B, T, I)
    lengths = torch.tensor([5, 2, 4]) if packed else torch.tensor([5, 5, 5])
    expected = lstm_equations(ref.state_dict(), x, lengths, layers, bidirectional)
    inp = x if batch_first else x.transpose(0, 1)
    if packed:
        inp = pack_padded_sequence(inp, lengths, batch_first=batch_first, enforce_sorted=False)
    with torch.set_grad_enabled(grad):
        plain, _ = mine(inp)
        with record(mine) as internals:
            out, _ = mine(inp)
        assert mine.internals is None  # off again
    assert len(internals) == layers and all(set(d) == set("ifgoch") for d in internals)
    for layer, (got, want) in enumerate(zip(internals, expected)):
        for name in "ifgoch":
            value = got[name]
            if packed:
                assert isinstance(value, nn.utils.rnn.PackedSequence)
                value, _ = pad_packed_sequence(value, batch_first=True)
            elif not batch_first:
                value = value.transpose(0, 1)
            assert not value.requires_grad
            assert torch.allclose(value, want[name][:, : value.shape[1]], atol=1e-10, rtol=0), \
                f"layer {layer} {name}"
    data = (lambda o: o.data) if packed else (lambda o: o)  # noqa: E731
    assert torch.equal(data(out), data(plain))
    assert torch.equal(data(internals[-1]["h"]), data(out))


def test_record_refuses_nn_lstm_and_unbatched_internals_have_the_outputs_shape():
    with pytest.raises(TypeError, match="load its state_dict into one"):
        with record(nn.LSTM(2, 3)):
            pass
    mine = LSTM(2, 3, bidirectional=True)
    with torch.no_grad(), record(mine) as internals:
        out, _ = mine(torch.randn(4, 2))  # (T, I): unbatched
    assert all(v.shape == out.shape == (4, 6) for v in internals[0].values())
