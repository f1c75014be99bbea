#!/usr/bin/env python
"""How far back the loss reaches, in the hand-made plain RNN and the hand-made LSTM: the norm of
the gradient of the loss at token t with respect to the hidden state at token k, against t - k.

    python scripts/eval_treebank.py --encoders hand torch rnn      # trains the models it reads
    python scripts/gradients_through_time.py                       # -> reports/gradients/

For each model (`--lstm`, `--rnn`: taggers trained on the treebank sample, one layer) and for the
same model untrained (the weights its training started from: same config, seed and vocabulary),
on the sentences of the test split: each direction of the sentence encoder is run one token at a
time (the module itself, with its own hand-written backward pass, one step per call), and for
every token t the loss there (-log p(gold tag), the other direction's output held as the full
sentence gives it) is differentiated with respect to the state after every earlier token k (later,
for the backward direction). The state is h for the RNN, and h and c for the LSTM, each reported
apart: in an LSTM the cell c is the path the argument for gates is about (its derivative counts
its way through h_k = o_k tanh(c_k) as well: c_k is the state, h_k what the step shows of it).

Printed and written to --report: the mean norm at each distance t - k (a table at distances 1, 5,
10, 20, 40 and a plot of every distance up to --max-distance), with how many (t, k) pairs each
mean is over.
"""

import json
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
import torch.nn.functional as F

from tagger import data, lstm, storage
from tagger.errors import ArgumentParser, TaggerError, cli
from tagger.model import Tagger

DISTANCES = (1, 5, 10, 20, 40)


def fresh_model(model, vocab, config):
    """The weights the training of `model` started from (tagger.train seeds, then builds)."""
    torch.manual_seed(config.seed)
    return Tagger(config, len(vocab.words), len(vocab.chars), len(vocab.tags)).eval()


def one_direction(module, direction):
    """A one-directional hand-made module holding one direction of `module`'s first layer."""
    suffix = "_reverse" if direction else ""
    cls = type(module)
    kwargs = {"nonlinearity": module.nonlinearity} if hasattr(module, "nonlinearity") else {}
    single = cls(module.input_size, module.hidden_size, bias=module.bias, batch_first=True,
                 **kwargs)
    single.load_state_dict({name: getattr(module, name + suffix)
                            for name in single.state_dict()})
    return single.requires_grad_(False)


def lstm_inputs(model, vocab, words):
    """What the sentence encoder reads at each token, from the model's parts. -> (1, T, I)"""
    batch = vocab.batch([words])
    forms = model.encode_chars(batch.chars, batch.char_lengths)  # (U, 2C)
    return model.form_features(batch.words, forms[batch.forms])


def sentence_gradients(model, vocab, words, tags, norms):
    """Adds to `norms` ({(state, distance): [norm, ...]}) the norm of d loss_t / d state_k for
    every pair of tokens k before t (after t, in the backward direction) of one sentence."""
    with torch.no_grad():
        x = lstm_inputs(model, vocab, words)  # (1, T, I)
        whole, _ = model.lstm(x)  # (1, T, 2H): what each direction gives on the whole sentence
    H, T = model.lstm.hidden_size, len(words)
    gold = torch.tensor([vocab.tags.index(t) for t in tags])  # (T,)
    for direction in (0, 1):
        single = one_direction(model.lstm, direction)
        steps = x[0] if direction == 0 else x[0].flip(0)  # (T, I), in the order it reads them
        state = torch.zeros(1, 1, H, requires_grad=True)  # a leaf: the steps keep their graph
        state = (state, torch.zeros(1, 1, H, requires_grad=True)) if model.lstm.mode == "LSTM" \
            else state
        states, losses, gates = [], [], []
        for s in range(T):
            with lstm.record(single) as internals:
                out, state = single(steps[s].view(1, 1, -1), state)  # out: (1, 1, H)
            gates.append(internals[0])
            t = s if direction == 0 else T - 1 - s  # the token this step is at
            other = whole[0, t, H:] if direction == 0 else whole[0, t, :H]
            both = torch.cat([out[0, 0], other] if direction == 0 else [other, out[0, 0]])
            losses.append(-F.log_softmax(model.head(both), dim=-1)[gold[t]])
            states.append(state if isinstance(state, tuple) else (state,))
        for s in range(1, T):
            earlier = [part for k in range(s) for part in states[k]]
            grads = torch.autograd.grad(losses[s], earlier, retain_graph=True)
            per_state = len(states[0])
            for k in range(s):
                found = dict(zip("hc", grads[k * per_state : (k + 1) * per_state]))
                if "c" in found:  # c_k reaches the loss through h_k = o_k tanh(c_k) as well
                    o, tanh_c = gates[k]["o"], torch.tanh(gates[k]["c"])
                    found["c"] = found["c"] + found["h"] * o * (1 - tanh_c * tanh_c)
                for name, g in found.items():
                    norms[(name, s - k)].append(g.norm().item())


def measure(model, vocab, sentences, max_distance):
    """{state: {distance: (mean norm, pairs)}} over these (words, tags) sentences."""
    norms = defaultdict(list)
    for words, tags in sentences:
        sentence_gradients(model, vocab, words, tags, norms)
    found = defaultdict(dict)  # h first, then the LSTM's c
    for (name, distance), values in sorted(norms.items(), key=lambda item: ("hc".index(item[0][0]),
                                                                            item[0][1])):
        if distance <= max_distance:
            found[name][distance] = (sum(values) / len(values), len(values))
    return found


def load(folder, encoder):
    """A trained one-layer tagger of this encoder, without pretraining, with its vocabulary."""
    if not Path(folder).is_dir():
        raise TaggerError(f"no model in '{folder}'; train the treebank's with scripts/"
                          "eval_treebank.py --encoders hand torch rnn, or give --lstm and --rnn")
    model, vocab, config, _ = storage.load(folder, "cpu")
    if config.encoder != encoder:
        raise TaggerError(f"{folder} was trained with --encoder {config.encoder}, not {encoder}")
    if config.num_layers != 1 or config.pretrained or not config.bidirectional:
        raise TaggerError(f"{folder}: this script reads one-layer bidirectional taggers without "
                          "--pretrained; train one with scripts/eval_treebank.py --encoders hand rnn")
    return model.requires_grad_(False), vocab, config


def table(results) -> str:
    """Markdown: the mean gradient norm at DISTANCES, per model and state."""
    columns = [(name, state) for name in results for state in results[name]]
    lines = ["| t - k | " + " | ".join(f"{name}, d loss / d {state}" for name, state in columns)
             + " |", "|---" * (len(columns) + 1) + "|"]
    for distance in DISTANCES:
        cells = []
        for name, state in columns:
            mean, pairs = results[name][state].get(distance, (None, 0))
            cells.append(f"{mean:.2e} ({pairs:,})" if mean is not None else "–")
        lines.append(f"| {distance} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    colors = {"RNN": "tab:red", "LSTM": "tab:blue"}
    for name, states in results.items():
        encoder, when = name.split(", ")
        for state, values in states.items():
            distances = sorted(values)
            ax.plot(distances, [values[d][0] for d in distances], color=colors[encoder],
                    linestyle="-" if when == "trained" else ":",
                    alpha=1.0 if state == "h" else 0.55, label=f"{name}: d loss / d {state}")
    ax.set_yscale("log")
    ax.set_xlabel("distance t - k (tokens)")
    ax.set_ylabel("mean ‖∂ loss_t / ∂ state_k‖")
    ax.set_title("Gradients through time on the treebank test split")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_args(argv=None):
    parser = ArgumentParser(prog="scripts/gradients_through_time.py",
                            description=__doc__.split("\n")[0])
    parser.add_argument("--lstm", default="models/treebank-hand-seed1",
                        help="a tagger trained with --encoder hand (default: %(default)s)")
    parser.add_argument("--rnn", default="models/treebank-rnn-seed1",
                        help="a tagger trained with --encoder rnn (default: %(default)s)")
    parser.add_argument("--sentences", type=int, default=0,
                        help="measure on the first N test sentences only (default: 0, all)")
    parser.add_argument("--max-distance", type=int, default=50, help="(default: %(default)s)")
    parser.add_argument("--report", default="reports/gradients", help="output folder")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    args = parser.parse_args(argv)
    parser.require_at_least(args, sentences=0, max_distance=1, threads=1)
    return args


@cli
def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    models = {"RNN": load(args.rnn, "rnn"), "LSTM": load(args.lstm, "hand")}
    config = models["LSTM"][2]
    splits = data.load_corpus(config)
    tags = set(models["LSTM"][1].tags) & set(models["RNN"][1].tags)
    sentences = [([w for w, _ in s], [t for _, t in s]) for s in splits.test
                 if all(t in tags for _, t in s)]  # a tag training never saw has no loss
    sentences = sentences[: args.sentences or None]
    results, start = {}, time.perf_counter()
    for encoder, (model, vocab, config) in models.items():
        for when, m in (("at init", fresh_model(model, vocab, config)), ("trained", model)):
            print(f"{encoder}, {when} ...", file=sys.stderr, flush=True)
            results[f"{encoder}, {when}"] = measure(m.requires_grad_(False), vocab, sentences,
                                                    args.max_distance)
    report = Path(args.report)
    report.mkdir(parents=True, exist_ok=True)
    plot(results, report / "gradients-through-time.png")
    machine = f"{platform.processor() or platform.machine()}, torch {torch.__version__}"
    tokens = sum(len(w) for w, _ in sentences)
    heading = (f"Mean norm of the gradient of the loss at token t with respect to the state at "
               f"token k, over the {len(sentences)} sentences ({tokens:,} tokens) of the "
               f"{splits.name} test split, both directions; in brackets, the number of (t, k) "
               f"pairs. {machine}; {time.perf_counter() - start:.0f} s.")
    markdown = f"# Gradients through time\n\n{heading}\n\n{table(results)}\n\n" \
                "![gradients](gradients-through-time.png)\n"
    (report / "report.md").write_text(markdown)
    (report / "report.json").write_text(json.dumps(
        {"models": {"lstm": args.lstm, "rnn": args.rnn}, "machine": machine,
         "sentences": len(sentences), "tokens": tokens,
         "results": {name: {state: {str(d): {"mean": m, "pairs": n} for d, (m, n) in v.items()}
                            for state, v in states.items()} for name, states in results.items()}},
        indent=2))
    print(heading + "\n\n" + table(results) + f"\n\nfull report in {report / 'report.md'}")


if __name__ == "__main__":
    main()
