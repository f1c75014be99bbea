"""Shared test setup: point NLTK at the workspace's shared data when NLTK_DATA is not set, run
torch on one thread; and the helpers the test modules share: tiny model sizes, a skip marker for
missing NLTK data, weight comparison, a hand-made module's checks against its torch reference,
the LSTM's equations one step at a time, and fixtures that run the real command line and check
its one-line errors. Test modules import the constants and functions (`from conftest import TINY`)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import nltk
import pytest
import torch
from safetensors.torch import load_file

SHARED_NLTK_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "nltk_data"

# The tests send Ctrl-C (SIGINT) to themselves and to the commands they start. A suite started in
# the background by a script (`nohup`, `&`) inherits SIGINT ignored, and so would every command it
# starts: Python's own handler is put back (commands started from here then get it too).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# NLTK reads NLTK_DATA once, when it is imported, so its search path is extended as well.
if "NLTK_DATA" not in os.environ and SHARED_NLTK_DATA.is_dir():
    os.environ["NLTK_DATA"] = str(SHARED_NLTK_DATA)
    nltk.data.path.append(str(SHARED_NLTK_DATA))

# A network that trains in a blink: every test model is this small.
TINY = dict(embedding_size=16, char_embedding_size=8, char_hidden_size=8, hidden_size=16)
# A tiny training run on the toy corpus: one CPU thread, no progress bar (a Config's fields).
TINY_RUN = dict(corpus="toy", progress=False, threads=1, device="cpu", **TINY)
# Smaller still, as flags of the evaluation scripts, which train several models.
TINY_FLAGS = ["--embedding-size", "8", "--char-embedding-size", "4",
              "--char-hidden-size", "4", "--hidden-size", "8", "--threads", "1", "--no-progress",
              "--device", "cpu"]


def needs_nltk(*resources):
    """Skip unless NLTK's search path has every resource ("corpora/treebank"...)."""
    from tagger import data

    missing = [r for r in resources if not data.nltk_has(r)]
    return pytest.mark.skipif(bool(missing), reason=f"NLTK's {', '.join(missing)} not installed")


def assert_same_weights(a, b):
    """Two models, or two model folders, hold the same tensors under the same names."""
    a, b = (load_file(Path(x) / "model.safetensors") if isinstance(x, (str, Path))
            else x.state_dict() for x in (a, b))
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


# Devices the hand-made modules are checked on, and the tolerance of a check against torch's own.
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
TOLERANCE = {torch.float64: 1e-8, torch.float32: 1e-5}


def check_state_dict_moves_both_ways(reference, hand_made, **kwargs):
    """A hand-made module's state_dict loads into the torch module it stands for, which then
    computes the same, and back again unchanged."""
    mine = hand_made(**kwargs)
    fresh = reference(**kwargs)
    fresh.load_state_dict(mine.state_dict(), strict=True)
    x = torch.randn(2, 5, kwargs["input_size"])
    with torch.no_grad():
        assert torch.allclose(fresh(x)[0], mine(x)[0], atol=1e-6)
    back = hand_made(**kwargs)
    back.load_state_dict(fresh.state_dict(), strict=True)
    assert all(torch.equal(a, b) for a, b in zip(back.parameters(), mine.parameters()))


def check_dropout_between_layers_only_in_training(reference, hand_made):
    """A new dropout mask each call in training; in eval mode, the torch module's output."""
    torch.manual_seed(0)
    mine = hand_made(3, 4, num_layers=2, dropout=0.5)
    ref = reference(3, 4, num_layers=2, dropout=0.5)
    ref.load_state_dict(mine.state_dict())
    x = torch.randn(5, 2, 3)
    mine.train()
    assert not torch.allclose(mine(x)[0], mine(x)[0])  # a new mask each call
    mine.eval(), ref.eval()
    assert torch.allclose(mine(x)[0], ref(x)[0], atol=1e-6)


def fused_ops(module) -> list[str]:
    """The fused recurrent kernels (aten::lstm*, aten::rnn_*) a forward and backward pass of
    `module` runs, every op profiled; the profile must see the products, or it saw nothing."""
    from torch.nn.utils.rnn import pack_padded_sequence
    from torch.profiler import ProfilerActivity, profile

    x = torch.randn(5, 2, 3, requires_grad=True)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        out, _ = module(pack_padded_sequence(x, torch.tensor([5, 3]), enforce_sorted=False))
        out.data.sum().backward()
    names = {e.name for e in prof.events()}
    assert names & {"aten::mm", "aten::addmm", "aten::bmm", "mkldnn::_linear_pointwise"}
    return [n for n in names if n.startswith("aten::") and ("lstm" in n or "rnn" in n)]


def check_ids_read_as_rows(ref, mine, rows, batch_first, packed, device):
    """mine(ids, table=E) is ref(E[ids]) (ref: the torch module holding mine's weights, input
    size 4): outputs and final states without a backward pass (where each row's input product is
    made once, or given as products=), and gradients, the table's included, with one."""
    import torch.nn.functional as F
    from torch.nn.utils.rnn import pack_padded_sequence

    table = torch.randn(rows, 4, dtype=torch.float64, device=device, requires_grad=True)
    ids = torch.randint(0, rows, (3, 6), device=device)  # (B, T)
    lengths = torch.tensor([6, 2, 4]) if packed else None

    def read(module, with_table):
        given = {"table": table} if with_table == "table" else \
            {"products": module.input_products(table)} if with_table == "products" else None
        if lengths is None:
            return module(ids, **given) if given else module(F.embedding(ids, table))
        p = pack_padded_sequence(ids, lengths, batch_first=batch_first, enforce_sorted=False)
        if given:
            return module(p, **given)
        return module(p._replace(data=F.embedding(p.data, table)))

    def flat(result):  # output, then h_n (and c_n)
        out, states = result
        return [out.data if packed else out,
                *(states if isinstance(states, tuple) else [states])]

    if not batch_first:
        ids = ids.t()  # (T, B)
    expected = read(ref, None)
    for given in ("table", "products"):  # products: the input products made before, and kept
        with torch.no_grad():
            got = read(mine, given)
        for e, g in zip(flat(expected), flat(got)):
            assert torch.allclose(g, e, atol=1e-10, rtol=0)
    with pytest.raises(RuntimeError, match="products= is for inference"):
        read(mine, "products")
    loss = lambda r: sum((t * (k + 1)).sum() for k, t in enumerate(flat(r)))  # noqa: E731
    e_grads = torch.autograd.grad(loss(expected), [table, *ref.parameters()])
    g_grads = torch.autograd.grad(loss(read(mine, "table")), [table, *mine.parameters()])
    for e, g in zip(e_grads, g_grads):
        assert torch.allclose(g, e, atol=1e-10, rtol=0)


def reference_pair(reference, hand_made, seed, dtype=torch.float64, device="cpu", **kwargs):
    """A torch module (nn.LSTM, nn.RNN) and its hand-made drop-in holding its weights."""
    torch.manual_seed(seed)
    ref = reference(**kwargs).to(device, dtype)
    mine = hand_made(**kwargs).to(device, dtype)
    mine.load_state_dict(ref.state_dict())
    return ref, mine


def outputs_and_grads(module, x, lengths, hx, batch_first):
    """A recurrent module's output (padded), final states (h_n, and c_n for an LSTM) and the
    gradients of a loss touching them all, for the input, hx and every parameter. `hx`: None,
    a tensor (RNN) or a tuple (LSTM); `lengths`: None for dense input, else it is packed."""
    from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

    given = [] if hx is None else list(hx) if isinstance(hx, tuple) else [hx]
    inp = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False) \
        if lengths is not None else x
    out, states = module(inp, hx)
    states = list(states) if isinstance(states, tuple) else [states]
    if lengths is not None:
        assert isinstance(out, PackedSequence)
        out, _ = pad_packed_sequence(out, batch_first=batch_first)
    # Weighted sums, so that a gradient routed to the wrong position cannot cancel out.
    g = torch.Generator().manual_seed(0)
    w = [torch.randn(t.shape, generator=g, dtype=t.dtype).to(t.device) for t in [out, *states]]
    loss = sum((t * wt).sum() for t, wt in zip([out, *states], w))
    grads = torch.autograd.grad(loss, [x, *given, *module.parameters()])
    return [out, *states, *grads]


def lstm_equations(weights, x, lengths, layers, bidirectional):
    """The LSTM's equations, one step at a time, from nn.LSTM-named weights: every layer's
    i, f, g, o, c and h for each sequence of x (B, T, I), each (B, T, D*H), zeros on padding."""
    B, T, _ = x.shape
    found, inputs = [], x
    for layer in range(layers):
        per_direction = []
        for suffix in ["", "_reverse"][: 1 + bidirectional]:
            W_ih = weights[f"weight_ih_l{layer}{suffix}"]
            W_hh = weights[f"weight_hh_l{layer}{suffix}"]
            b = weights[f"bias_ih_l{layer}{suffix}"] + weights[f"bias_hh_l{layer}{suffix}"]
            H = W_hh.shape[1]
            out = {k: torch.zeros(B, T, H, dtype=x.dtype) for k in "ifgoch"}
            for s in range(B):
                n = int(lengths[s])
                h, c = torch.zeros(H, dtype=x.dtype), torch.zeros(H, dtype=x.dtype)
                for t in (range(n - 1, -1, -1) if suffix else range(n)):
                    a = W_ih @ inputs[s, t] + W_hh @ h + b
                    i, f, o = (torch.sigmoid(a[k * H : (k + 1) * H]) for k in (0, 1, 3))
                    g = torch.tanh(a[2 * H : 3 * H])
                    c = f * c + i * g
                    h = o * torch.tanh(c)
                    for k, v in zip("ifgoch", (i, f, g, o, c, h)):
                        out[k][s, t] = v
            per_direction.append(out)
        found.append({k: torch.cat([d[k] for d in per_direction], dim=-1) for k in "ifgoch"})
        inputs = found[-1]["h"]
    return found


def _run_cli(module, *args, cwd=None, input=None, env=None):
    """`python -m MODULE ARGS` as a user runs it; stdout and stderr come back as text."""
    if isinstance(input, str):
        input = input.encode()
    result = subprocess.run([sys.executable, "-m", module, *args], input=input, cwd=cwd, env=env,
                            capture_output=True, timeout=300)
    result.stdout = result.stdout.decode("utf-8", "replace")
    result.stderr = result.stderr.decode("utf-8", "replace")
    return result


def _assert_one_line_error(result, *words):
    """The promise for every error a user can cause: exit code 2, one line, no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """Every test runs torch on one thread, as the `--threads 1` command lines that tests compare
    in-process runs with do (train() leaves threads to its caller); tiny sizes gain nothing from
    a second one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def run_cli():
    return _run_cli


@pytest.fixture(scope="session")
def one_line_error():
    return _assert_one_line_error


class _Payload:
    """Unpickling this creates `marker`: the proof that a load ran code from the file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="session")
def payload():
    """payload(marker): an object whose unpickling creates the file `marker`."""
    return _Payload
