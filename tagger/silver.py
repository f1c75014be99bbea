"""Silver sentences: what a teacher (one model, or several) made of untagged text, as each token's
learning target, {tag: probability}. tagger.distill has teachers tag raw text for a student;
tagger.train's --self-train has the model tag it for itself. tagger.data.read_silver reads the
JSON Lines file `write` writes: one sentence a line, {"tokens": [...], "tags": [{...}, ...]}.
"""

import json

# A silver token keeps the teacher's tags of at least this probability: the rest is noise that
# would cost a JSON entry each.
MIN_PROBABILITY = 0.01
# Sentences tagged per call: a window's worth, so that memory stays bounded.
CHUNK = 20_000


def silver_targets(probabilities, tags: list[str], targets: str) -> list[list[dict]]:
    """Each token's learning target from its teachers' probabilities: probabilities (teachers,
    tokens, num_tags); -> one {tag: probability} per token."""
    if targets == "agree":
        best = probabilities.argmax(-1)  # (teachers, tokens)
        agreed = (best == best[0]).all(0).tolist()
        return [{tags[b]: 1.0} if ok else {} for b, ok in zip(best[0].tolist(), agreed)]
    mean = probabilities.mean(0)  # (tokens, num_tags)
    if targets == "top":
        return [{tags[b]: 1.0} for b in mean.argmax(-1).tolist()]
    kept = []
    for row in mean.tolist():
        kept.append({tags[i]: round(p, 4) for i, p in enumerate(row) if p >= MIN_PROBABILITY})
    return kept


def tag_silver(teachers, sentences: list[list[str]], targets: str):
    """The silver records ({"tokens", "tags"}) of `sentences` as `teachers` (PosTaggers over the
    same tags) see them."""
    import torch

    tags = teachers[0].vocab.tags
    for start in range(0, len(sentences), CHUNK):
        chunk = sentences[start:start + CHUNK]
        each = [teacher.predict_proba(chunk) for teacher in teachers]  # [teacher][sentence]
        for k, tokens in enumerate(chunk):
            probabilities = torch.stack([found[k] for found in each])  # (teachers, T, num_tags)
            yield {"tokens": tokens, "tags": silver_targets(probabilities, tags, targets)}


def beside(out, suffix: str) -> str:
    """The path of a silver file beside the model folder `out`: `<out><suffix>`."""
    return f"{str(out).rstrip('/')}{suffix}"


def write(path, records) -> None:
    """The records ({"tokens", "tags"}) as JSON Lines, replacing `path` atomically."""
    from tagger import storage

    def write_to(name):
        with open(name, "w", encoding="utf-8") as f:
            for record in records:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")

    storage.write_atomic(path, write_to)
