"""Shared test setup: point NLTK at the workspace's shared data when NLTK_DATA is not set, run
torch on one thread; and the helpers the test modules share: tiny model sizes, a skip marker for
missing NLTK data, weight comparison, a hand-made module against its torch reference, the LSTM's
equations one step at a time, and fixtures that run the real command line and check its one-line
errors. Test modules import the constants and functions (`from conftest import TINY`)."""

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
            W_ih, W_hh = weights[f"weight_ih_l{layer}{suffix}"], weights[f"weight_hh_l{layer}{suffix}"]
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
