"""What the sentence LSTM computes inside, token by token: the learner's view of a tagging.

For each token of a sentence and each direction of each layer: the gates i, f, g, o and the cell
state c of an LSTM (h, the hidden state, too), or the hidden state h of a plain RNN, as the real
forward pass computed them (read through `tagger.lstm.record`, not recomputed beside it), with
the tags the same pass gives and each token's three most probable tags.

    tagger = PosTagger.load("models/latest")          # tagger.tag.PosTagger
    explanation = tagger.explain(["The", "dog", "ate", "the", "apple"])
    explanation.layers[0]["f"]        # (T, D, H): the forget gate, token by direction by unit
    explanation.top[1]                # [('NN', 0.999), ('JJ', 0.001), ('VB', 0.0)]

A model trained with `--encoder torch` is read through a hand-made LSTM holding its weights (a
state_dict moves between the two unchanged), which computes the same numbers.
"""

from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch.nn.utils.rnn import pad_packed_sequence

from tagger import lstm
from tagger.model import ENCODERS, HAND_MADE

DIRECTIONS = ("forward", "backward")
TOP = 3  # the most probable tags shown per token


@dataclass
class Explanation:
    """One sentence as the model saw it. `layers`: per layer of the sentence LSTM, the nearest
    the words first, each of its internals by nn.LSTM's name ("i", "f", "g", "o", "c", "h"; a
    plain RNN has "h" alone) as a (T, D, H) tensor: token, direction (forward, then backward:
    at token t the backward direction has read from the last token back to t), unit."""

    tokens: list[str]
    tags: list[str]
    top: list[list[tuple[str, float]]]  # each token's TOP most probable (tag, probability)
    layers: list[dict[str, torch.Tensor]]
    encoder: str  # the model's: hand, torch or rnn

    def norms(self, name: str = "c") -> list[torch.Tensor]:
        """Per layer, the L2 norm over units of one internal (the cell state by default): how
        much each direction carries along the sentence. -> [(T, D)]"""
        return [layer[name].norm(dim=-1) for layer in self.layers]

    def to_dict(self, digits: int = 3) -> dict:
        """JSON-ready: the tags, top tags and every internal as nested lists, rounded."""
        def rounded(t):
            return torch.round(t.float(), decimals=digits).tolist()

        state = "c" if "c" in self.layers[0] else "h"
        return {"tokens": self.tokens, "tags": self.tags, "encoder": self.encoder,
                "directions": list(DIRECTIONS[: self.layers[0]["h"].shape[1]]),
                "top": [[{"tag": t, "probability": round(p, 4)} for t, p in top]
                        for top in self.top],
                "layers": [{**{name: rounded(v) for name, v in layer.items()},
                            "norm": {state: rounded(norm)}}
                           for layer, norm in zip(self.layers, self.norms(state))]}


def hand_made(module):
    """The module itself if it is hand-made (it can be recorded), else a hand-made LSTM with
    its weights: the drop-in that computes what nn.LSTM does."""
    if isinstance(module, HAND_MADE):
        return module
    weight = module.weight_ih_l0
    copy = lstm.LSTM(module.input_size, module.hidden_size, module.num_layers, module.bias,
                     module.batch_first, module.dropout, module.bidirectional,
                     device=weight.device, dtype=weight.dtype)
    copy.load_state_dict(module.state_dict())
    return copy.eval()


@contextmanager
def _recorded(model):
    """The model's sentence LSTM recorded (a hand-made copy in its place while recording)."""
    original = model.lstm
    model.lstm = hand_made(original)
    try:
        with lstm.record(model.lstm) as internals:
            yield internals
    finally:
        model.lstm = original


def explain(model, vocab, sentences: list[list[str]], device="cpu") -> list[Explanation]:
    """An Explanation of each sentence of tokens (at least one token each), from one forward
    pass of `model` (a tagger.model.Tagger in eval mode) over them all."""
    if not sentences or not all(sentences):
        raise ValueError("explain needs sentences of at least one token each")
    batch = vocab.batch(sentences).to(device)
    with torch.inference_mode(), _recorded(model) as recorded:
        probabilities = model(batch).exp()  # (B, T, num_tags)
    layers = [{name: pad_packed_sequence(v, batch_first=True)[0] for name, v in layer.items()}
              for layer in recorded]  # (B, T, D*H) each
    top_p, top_ids = probabilities.topk(min(TOP, probabilities.shape[-1]), dim=-1)  # (B, T, k)
    encoder = next(name for name, cls in ENCODERS.items() if type(model.lstm) is cls)
    found = []
    for b, tokens in enumerate(sentences):
        T = len(tokens)
        top = [[(vocab.tags[i], p) for i, p in zip(ids, ps)]
               for ids, ps in zip(top_ids[b, :T].tolist(), top_p[b, :T].tolist())]
        found.append(Explanation(
            list(tokens), [t[0][0] for t in top], top,
            [{name: v[b, :T].unflatten(-1, (-1, model.lstm.hidden_size)).cpu()  # (T, D, H)
              for name, v in layer.items()} for layer in layers], encoder))
    return found
