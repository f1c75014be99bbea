"""Metrics and pictures for a tagger's predictions: accuracy (overall, known and unknown words),
per-tag precision/recall/F1, agreement between taggers, Markdown tables and PNG plots.

Every number is a plain Python value (None for an empty group) so results go straight into JSON.
"""

from collections import Counter
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")  # reports are written on headless machines
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support  # noqa: E402

Sentence = list[tuple[str, str]]  # (word, gold tag)

EXTRA_COLUMNS = {  # summary_table's optional columns: key -> (header, format)
    "train_seconds": ("train s", "{:,.1f}"),
    "tokens_per_second": ("tokens/s", "{:,.0f}"),
    "epochs": ("epochs", "{:.0f}"),
}
MISSING = "–"
DPI = 120


def _check_lengths(expected: list[list], got: list[list], what: str) -> None:
    if len(expected) != len(got):
        raise ValueError(f"{what}: {len(got)} sentences, expected {len(expected)}")
    for i, (e, g) in enumerate(zip(expected, got)):
        if len(e) != len(g):
            raise ValueError(f"{what}: sentence {i} has {len(g)} tags, expected {len(e)}")


def _flatten(gold: list[Sentence], predicted: list[list[str]]) -> tuple[list[str], list[str], list[str]]:
    """Words, gold tags and predicted tags as flat token lists."""
    _check_lengths(gold, predicted, "predictions do not match the gold sentences")
    words = [w for sentence in gold for w, _ in sentence]
    gold_tags = [t for sentence in gold for _, t in sentence]
    predicted_tags = [t for tags in predicted for t in tags]
    return words, gold_tags, predicted_tags


def _accuracy(hits: list[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


def evaluate(gold: list[Sentence], predicted: list[list[str]], is_known: Callable[[str], bool]) -> dict:
    """Accuracy overall and split by whether `is_known(word)`, plus per-tag P/R/F1 and support,
    over the tokens whose gold tag is not None."""
    words, y_true, y_pred = _flatten(gold, predicted)
    # A gold tag of None marks a token that was tagged in its sentence but is not scored.
    scored = [(w, t, p) for w, t, p in zip(words, y_true, y_pred) if t is not None]
    words, y_true, y_pred = ([x[i] for x in scored] for i in range(3))
    hits = [t == p for t, p in zip(y_true, y_pred)]
    known = [is_known(w) for w in words]
    known_hits = [h for h, k in zip(hits, known) if k]
    unknown_hits = [h for h, k in zip(hits, known) if not k]

    tags = sorted(set(y_true) | set(y_pred))
    per_tag = {}
    if tags:  # sklearn refuses an empty label set
        p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=tags, zero_division=0)
        per_tag = {tag: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                         "support": int(s[i])}
                   for i, tag in enumerate(tags)}

    return {"tokens": len(hits), "accuracy": _accuracy(hits),
            "known_tokens": len(known_hits), "known_accuracy": _accuracy(known_hits),
            "unknown_tokens": len(unknown_hits), "unknown_accuracy": _accuracy(unknown_hits),
            "per_tag": per_tag}


def agreement(a: list[list[str]], b: list[list[str]]) -> float | None:
    """Fraction of tokens on which two taggers give the same tag (None when there are no tokens)."""
    _check_lengths(a, b, "the two taggings differ in shape")
    return _accuracy([x == y for tags_a, tags_b in zip(a, b) for x, y in zip(tags_a, tags_b)])


def _percent(value: float | None) -> str:
    return MISSING if value is None else f"{100 * value:.1f}"


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    align = ["---"] + ["---:"] * (len(header) - 1)  # names left, numbers right
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines) + "\n"


def per_tag_table(results: dict[str, dict], min_support: int = 1) -> str:
    """Markdown table of P / R / F1 per tag for each named result of `evaluate`, commonest tags first.

    Tags with gold support below `min_support` are left out; the default drops tags that were only
    ever predicted, never gold.
    """
    # Results may come from different test sets, so a tag's support is the largest any of them saw.
    support = Counter()
    for result in results.values():
        for tag, scores in result["per_tag"].items():
            support[tag] = max(support[tag], scores["support"])
    tags = sorted((t for t in support if support[t] >= min_support), key=lambda t: (-support[t], t))

    header = ["tag", "support"] + [f"{name} {m}" for name in results for m in ("P", "R", "F1")]
    rows = []
    for tag in tags:
        row = [tag, str(support[tag])]
        for result in results.values():
            scores = result["per_tag"].get(tag, {})
            row += [_percent(scores.get(m)) for m in ("precision", "recall", "f1")]
        rows.append(row)
    return _markdown(header, rows)


def summary_table(rows: dict[str, dict]) -> str:
    """Markdown table of accuracies per named tagger, plus timing/epoch columns any row carries."""
    extras = [key for key in EXTRA_COLUMNS if any(row.get(key) is not None for row in rows.values())]
    header = ["tagger", "accuracy %", "known %", "unknown %"] + [EXTRA_COLUMNS[k][0] for k in extras]
    lines = []
    for name, row in rows.items():
        cells = [name] + [_percent(row.get(k)) for k in ("accuracy", "known_accuracy", "unknown_accuracy")]
        for key in extras:
            value = row.get(key)
            cells.append(MISSING if value is None else EXTRA_COLUMNS[key][1].format(value))
        lines.append(cells)
    return _markdown(header, lines)


def _save(fig, path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def plot_confusion(gold: list[Sentence], predicted: list[list[str]], path, title: str, top: int = 20) -> None:
    """PNG heat map of which tag each of the `top` commonest gold tags was predicted as."""
    _, y_true, y_pred = _flatten(gold, predicted)
    gold_counts = Counter(y_true)
    labels = [tag for tag, _ in gold_counts.most_common(top)]
    matrix = confusion_matrix(y_true, y_pred, labels=labels) if labels else np.zeros((0, 0))
    # Normalise by every token of the gold tag, not just those predicted inside the top tags,
    # so a cell is the true fraction and a row's shortfall from 1 is what went to rarer tags.
    totals = np.array([gold_counts[tag] for tag in labels], dtype=float)
    matrix = matrix / np.maximum(totals, 1)[:, None]

    size = 2 + 0.35 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted tag")
    ax.set_ylabel("gold tag")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="fraction of gold tag")
    _save(fig, path)


def plot_curves(histories: dict[str, list[dict]], path, title: str = "Training curves") -> None:
    """PNG with training loss and dev accuracy (%) per epoch, one line per named run."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for name, history in histories.items():
        epochs = [h["epoch"] for h in history]
        loss_ax.plot(epochs, [h["loss"] for h in history], marker="o", markersize=3, label=name)
        acc_ax.plot(epochs, [100 * h["dev_accuracy"] for h in history], marker="o", markersize=3, label=name)
    for ax, ylabel in ((loss_ax, "training loss"), (acc_ax, "dev accuracy (%)")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if histories:
            ax.legend()
    fig.suptitle(title)
    _save(fig, path)
