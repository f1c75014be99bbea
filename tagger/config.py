"""The one configuration of a tagger: every field is a command-line flag, and the saved model carries it.

`python -m tagger.train --help` is generated from the fields below, so the flags, their defaults
and the saved `config.json` can never drift apart.
"""

import argparse
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from tagger.errors import TaggerError

if TYPE_CHECKING:
    import torch

# Bumped whenever a saved model's files change meaning; loading refuses other versions.
FORMAT_VERSION = 1


def _flag(default, help, choices=None, aliases=()):
    return field(default=default, metadata={"help": help, "choices": choices, "aliases": aliases})


@dataclass
class Config:
    # data
    corpus: str = _flag("auto", "toy; treebank; wsj (treebank + conll2000's train.txt); english "
                        "(wsj + Brown in Penn tags); brown (universal tags); a CoNLL-U or word/TAG "
                        "file. auto = english when NLTK has its corpora, else treebank, else toy")
    dev: str = _flag(None, "dev file for a user corpus (default: a slice of the training file)")
    test: str = _flag(None, "test file for a user corpus (default: a slice of the training file)")
    xpos: bool = _flag(False, "CoNLL-U: learn the XPOS column instead of UPOS")
    keep_traces: bool = _flag(False, "treebank: keep -NONE- empty elements (traces, *U*, 0)")
    limit: int = _flag(0, "use only the first N training sentences (0 = all)")
    brown_share: float = _flag(0.25, "corpus english: the share of Brown's sentences each epoch "
                               "trains on, the next slice each epoch (1 = all of it every epoch)")
    # model
    encoder: str = _flag("hand", "LSTM implementation: hand (tagger.lstm) or torch (nn.LSTM)",
                         choices=("hand", "torch"))
    bidirectional: bool = _flag(True, "run the sentence LSTM in both directions")
    embedding_size: int = _flag(100, "word embedding size")
    char_embedding_size: int = _flag(30, "character embedding size")
    char_hidden_size: int = _flag(50, "hidden size of the character BiLSTM, per direction")
    hidden_size: int = _flag(128, "hidden size of the sentence LSTM, per direction")
    num_layers: int = _flag(1, "layers of the sentence LSTM", aliases=("--layers",))
    dropout: float = _flag(0.5, "dropout on embeddings, between LSTM layers and before the head")
    word_dropout: float = _flag(0.25, "alpha: a word seen c times becomes <unk> with p = alpha/(alpha+c)")
    case_noise: float = _flag(0.0, "share of training sentences shown all in lower case or all "
                              "in capitals (half each), for text typed that way")
    pretrained: str = _flag(None, "folder made by python -m tagger.pretrain: its word vectors and "
                            "language models join every word's features, frozen, inside the model")
    # training
    epochs: int = _flag(0, "maximum number of epochs (0 = the corpus's: 5 for english, whose "
                        "epochs are 4x the treebank's, 12 for wsj, 30 for the others)")
    patience: int = _flag(5, "stop after this many epochs without a better dev accuracy (0 = never)")
    batch_size: int = _flag(32, "sentences per batch")
    lr: float = _flag(2e-3, "Adam learning rate")
    lr_schedule: str = _flag("constant", "constant, or cosine: from --lr at the first epoch down "
                             "to near 0 at --epochs", choices=("constant", "cosine"))
    ema_decay: float = _flag(0.0, "evaluate and save an exponential moving average of the "
                             "weights, updated every step with this decay, e.g. 0.99 (0 = off)")
    clip: float = _flag(5.0, "clip the gradient norm to this (0 = no clipping)")
    seed: int = _flag(1, "random seed; the same seed on CPU with --threads 1 gives the same model")
    device: str = _flag("auto", "auto picks cuda when present", choices=("auto", "cpu", "cuda"))
    threads: int = _flag(0, "CPU threads for torch (0 = torch's default)")
    out: str = _flag("models/latest", "folder the best model is saved to")
    resume: bool = _flag(False, "continue the unfinished run that saved to --out from its last "
                         "checkpoint; give the same settings as that run")
    progress: bool = _flag(True, "show a progress bar per epoch")

    def validate(self):
        positive = ["batch_size", "embedding_size", "char_embedding_size",
                    "char_hidden_size", "hidden_size", "num_layers"]
        for name in positive:
            if getattr(self, name) < 1:
                raise TaggerError(f"--{name.replace('_', '-')} must be at least 1, got "
                                  f"{getattr(self, name)}")
        for name in ["epochs", "patience", "limit", "threads", "clip", "word_dropout"]:
            if getattr(self, name) < 0:
                raise TaggerError(f"--{name.replace('_', '-')} must not be negative, got "
                                  f"{getattr(self, name)}")
        if not 0.0 < self.brown_share <= 1.0:
            raise TaggerError(f"--brown-share must be in (0, 1], got {self.brown_share}")
        if not 0.0 <= self.case_noise <= 1.0:
            raise TaggerError(f"--case-noise must be in [0, 1], got {self.case_noise}")
        if not 0.0 <= self.dropout < 1.0:
            raise TaggerError(f"--dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise TaggerError(f"--ema-decay must be in [0, 1), got {self.ema_decay}")
        if not self.lr > 0:
            raise TaggerError(f"--lr must be positive, got {self.lr}")
        # The model is saved by replacing the folder that --out names, so it must name one.
        if Path(self.out).name in ("", ".", ".."):
            raise TaggerError(f"--out must name a model folder, such as models/latest, got "
                              f"'{self.out}'")
        return self

    # --- command line -------------------------------------------------------------------------

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser):
        for f in fields(cls):
            flag = "--" + f.name.replace("_", "-")
            meta = f.metadata
            if f.type is bool or isinstance(f.default, bool):
                parser.add_argument(flag, *meta["aliases"], dest=f.name, default=f.default,
                                    action=argparse.BooleanOptionalAction, help=meta["help"])
            else:
                kind = type(f.default) if f.default is not None else str
                parser.add_argument(flag, *meta["aliases"], dest=f.name, type=kind,
                                    default=f.default, choices=meta["choices"],
                                    help=meta["help"] + (f" (default: {f.default})"
                                                         if f.default is not None else ""))
        return parser

    @classmethod
    def from_args(cls, args: argparse.Namespace):
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)}).validate()

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
        return cls(**{k: v for k, v in data.items() if k in known})


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
