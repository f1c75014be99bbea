"""The one configuration of a tagger: every field is a command-line flag, and the saved model carries it.

Flags, bounds and which settings change what is learnt are declared once, on the fields (`flag`);
`Flags` makes the parser and the checks from them, for Config and tagger.pretrain.Settings alike.

`python -m tagger.train --help` is generated from the fields below, so the flags, their defaults
and the saved `config.json` can never drift apart.
"""

import argparse
import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from tagger.errors import TaggerError
from tagger.rawtext import EVERYDAY

if TYPE_CHECKING:
    import torch

# Bumped whenever a saved model's files change meaning; loading refuses other versions.
FORMAT_VERSION = 1


def flag(default, help, choices=None, aliases=(), bounds=None, learned=True):
    """A field that is also a command-line flag. `bounds`: the interval its value must lie in,
    written as in mathematics ("[1, inf)", "(0, 1]"). `learned=False`: a setting of the run
    (where to save, threads, progress bar) that does not change what is learnt, so that a model
    may be reused, or a run resumed, with another value."""
    return field(default=default, metadata={"help": help, "choices": choices, "aliases": aliases,
                                            "bounds": bounds, "learned": learned})


INTERVAL = re.compile(r"([\[(])(-?[\d.e-]+|-inf), *(-?[\d.e-]+|inf)([\])])")


def _bound_error(name: str, value, bounds: str) -> str | None:
    """The one-line error for a value outside `bounds`, or None when it lies inside."""
    opening, low, high, closing = INTERVAL.fullmatch(bounds).groups()
    low, high = float(low), float(high)
    if ((value > low if opening == "(" else value >= low)
            and (value < high if closing == ")" else value <= high)):
        return None
    flag = "--" + name.replace("_", "-")
    if high == float("inf"):
        if opening == "(" and low == 0:
            return f"{flag} must be positive, got {value}"
        if low == 0:
            return f"{flag} must not be negative, got {value}"
        return f"{flag} must be at least {low:g}, got {value}"
    return f"{flag} must be in {bounds}, got {value}"


class Flags:
    """A dataclass whose fields are command-line flags (made with `flag`): the parser, the bounds
    check and which settings change what is learnt all come from the fields, so they cannot drift
    apart. Config and tagger.pretrain.Settings are such dataclasses."""

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser):
        for f in fields(cls):
            flag = "--" + f.name.replace("_", "-")
            meta = f.metadata
            if f.type is bool or isinstance(f.default, bool):
                parser.add_argument(flag, *meta["aliases"], dest=f.name, default=f.default,
                                    action=argparse.BooleanOptionalAction, help=meta["help"])
            elif isinstance(f.default, tuple):  # one or more values
                parser.add_argument(flag, *meta["aliases"], dest=f.name, nargs="+",
                                    default=list(f.default), choices=meta["choices"],
                                    help=f"{meta['help']} (default: {' '.join(f.default)})")
            else:
                kind = type(f.default) if f.default is not None else str
                parser.add_argument(flag, *meta["aliases"], dest=f.name, type=kind,
                                    default=f.default, choices=meta["choices"],
                                    help=meta["help"] + (f" (default: {f.default})"
                                                         if f.default is not None else ""))
        return parser

    @classmethod
    def from_args(cls, args: argparse.Namespace):
        values = {f.name: getattr(args, f.name) for f in fields(cls)}
        values = {name: tuple(v) if isinstance(v, list) else v for name, v in values.items()}
        return cls(**values).validate()

    @classmethod
    def run_only(cls) -> set[str]:
        """The settings that do not change what is learnt."""
        return {f.name for f in fields(cls) if not f.metadata["learned"]}

    def validate(self):
        """Raise a one-line TaggerError for the first value outside its flag's bounds."""
        for f in fields(self):
            bounds = f.metadata.get("bounds")
            error = bounds and _bound_error(f.name, getattr(self, f.name), bounds)
            if error:
                raise TaggerError(error)
        return self


@dataclass
class Config(Flags):
    # data
    corpus: str = flag("auto", "toy; treebank; wsj (treebank + conll2000's train.txt); english "
                       "(wsj + Brown in Penn tags); brown (universal tags); a CoNLL-U or word/TAG "
                       "file. auto = english when NLTK has its corpora, else treebank, else toy")
    dev: str = flag(None, "dev file for a user corpus (default: a slice of the training file)")
    test: str = flag(None, "test file for a user corpus (default: a slice of the training file)")
    xpos: bool = flag(False, "CoNLL-U: learn the XPOS column instead of UPOS")
    keep_traces: bool = flag(False, "treebank: keep -NONE- empty elements (traces, *U*, 0)")
    limit: int = flag(0, "use only the first N training sentences (0 = all)", bounds="[0, inf)")
    brown_share: float = flag(0.25, "corpus english: the share of Brown's sentences each epoch "
                              "trains on, the next slice each epoch (1 = all of it every epoch)",
                              bounds="(0, 1]")
    brown_tags: str = flag("penn", "corpus english: what Brown teaches: penn (its tags as sets of "
                           "Penn tags), own (its own tags, through a second tag head over the "
                           "same encoder: multi-task learning) or both",
                           choices=("penn", "own", "both"))
    nps_chat: bool = flag(False, "corpus english: also learn from NLTK's NPS Chat posts (their "
                          "tags read as Penn's, tagger.chat), all of them every epoch")
    silver: str = flag(None, "JSON Lines of sentences a teacher tagged with its probabilities "
                       "(python -m tagger.distill makes it): learnt from as well, each token "
                       "towards the teacher's probabilities")
    self_train: int = flag(0, "self-training: after this epoch, the model tags the raw text of "
                           "--self-train-text, and each later epoch also learns from a share of "
                           "it (--silver-share), towards the model's probabilities (0 = never)",
                           bounds="[0, inf)")
    self_train_text: tuple = flag(EVERYDAY, "raw text for --self-train, whose words also join "
                                  "the vocabulary: NLTK corpora or plain-text files")
    silver_share: float = flag(0.25, "the share of the silver sentences each epoch trains on, the "
                               "next slice each epoch", bounds="(0, 1]")
    silver_weight: float = flag(0.5, "a silver token's loss weight, a gold token's being 1",
                                bounds="(0, inf)")
    # model
    encoder: str = flag("hand", "recurrent layers: hand (the hand-made LSTM, tagger.lstm), torch "
                        "(nn.LSTM), or rnn (a hand-made plain tanh RNN, tagger.rnn, to compare)",
                        choices=("hand", "torch", "rnn"))
    bidirectional: bool = flag(True, "run the sentence LSTM in both directions (the default)")
    embedding_size: int = flag(100, "word embedding size", bounds="[1, inf)")
    char_embedding_size: int = flag(30, "character embedding size", bounds="[1, inf)")
    char_hidden_size: int = flag(50, "hidden size of the character BiLSTM, per direction",
                                 bounds="[1, inf)")
    hidden_size: int = flag(128, "hidden size of the sentence LSTM, per direction",
                            bounds="[1, inf)")
    num_layers: int = flag(1, "layers of the sentence LSTM", aliases=("--layers",),
                           bounds="[1, inf)")
    dropout: float = flag(0.5, "dropout on embeddings, between LSTM layers and before the head",
                          bounds="[0, 1)")
    word_dropout: float = flag(0.25, "alpha: a word seen c times becomes <unk> with "
                               "p = alpha/(alpha+c)", bounds="[0, inf)")
    case_noise: float = flag(0.0, "share of training sentences shown all in lower case or all "
                             "in capitals (half each), for text typed that way", bounds="[0, 1]")
    pretrained: str = flag(None, "folder made by python -m tagger.pretrain: its word vectors and "
                           "language models join every word's features, frozen, inside the model")
    # training
    epochs: int = flag(0, "maximum number of epochs (0 = the corpus's: 5 for english, whose "
                       "epochs are 4x the treebank's, 12 for wsj, 30 for the others)",
                       bounds="[0, inf)")
    patience: int = flag(5, "stop after this many epochs without a better dev accuracy "
                         "(0 = never)", bounds="[0, inf)")
    batch_size: int = flag(32, "sentences per batch", bounds="[1, inf)")
    lr: float = flag(2e-3, "Adam learning rate", bounds="(0, inf)")
    lr_schedule: str = flag("constant", "constant, or cosine: from --lr at the first epoch down "
                            "to near 0 at --epochs", choices=("constant", "cosine"))
    ema_decay: float = flag(0.0, "evaluate and save an exponential moving average of the "
                            "weights, updated every step with this decay, e.g. 0.99 (0 = off)",
                            bounds="[0, 1)")
    clip: float = flag(5.0, "clip the gradient norm to this (0 = no clipping)", bounds="[0, inf)")
    seed: int = flag(1, "random seed; the same seed on CPU with --threads 1 gives the same model")
    # the run: these do not change what is learnt
    device: str = flag("auto", "auto picks cuda when present", choices=("auto", "cpu", "cuda"),
                       learned=False)
    threads: int = flag(0, "CPU threads for torch (0 = torch's default)", bounds="[0, inf)",
                        learned=False)
    out: str = flag("models/latest", "folder the best model is saved to", learned=False)
    resume: bool = flag(False, "continue the unfinished run that saved to --out from its last "
                        "checkpoint; give the same settings as that run", learned=False)
    progress: bool = flag(True, "show a progress bar per epoch", learned=False)

    def validate(self):
        super().validate()
        # The model is saved by replacing the folder that --out names, so it must name one.
        if Path(self.out).name in ("", ".", ".."):
            raise TaggerError(f"--out must name a model folder, such as models/latest, got "
                              f"'{self.out}'")
        if self.silver and self.self_train:
            raise TaggerError("--silver and --self-train cannot go together: give the one or "
                              "the other")
        return self

    # --- saved with the model -----------------------------------------------------------------

    def to_json(self):
        return json.dumps({"format_version": FORMAT_VERSION, **asdict(self)}, indent=2)

    @classmethod
    def from_json(cls, text, source="config.json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise TaggerError(f"{source} is not valid JSON ({e}); retrain the model") from None
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            found = data.get("format_version") if isinstance(data, dict) else None
            raise TaggerError(f"{source} has model format version {found}, this tagger reads "
                              f"version {FORMAT_VERSION}; retrain the model with this version")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known - {"format_version"}
        if unknown:
            raise TaggerError(f"{source} has unknown settings {sorted(unknown)}; "
                              "it was saved by another version, retrain the model")
        # JSON has lists where the fields have tuples (flags of one or more values).
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
                      if k in known})


def resolve_device(name: str) -> "torch.device":
    """'auto' picks CUDA when present; asking for CUDA without it is the user's error."""
    import torch  # here, not above: `--help` and flag errors answer before torch's seconds to load

    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TaggerError("--device cuda was asked for but no CUDA GPU is available; "
                          "use --device cpu or auto")
    return torch.device(name)
