"""The state of an unfinished training run, saved after every epoch so that `--resume` continues it
exactly where it was: same weights at the end as a run that was never interrupted.

    models/latest.checkpoint.safetensors      beside the model folder `--out models/latest`

One safetensors file, replaced atomically: the model's weights, the optimizer's moments and the
states of the random generators (every process's, in a run on several) are its tensors; the
epoch, the best dev accuracy so far, the history, the settings it was trained with and the
optimizer's hyper-parameters are JSON in its metadata. Reading it never runs code, as for a model folder. It lives only while a run is
unfinished: a run that ends deletes it.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from tagger.config import Config
from tagger.errors import TaggerError
from tagger.storage import write_atomic

# Of this file's layout, apart from the model folder's own format version.
CHECKPOINT_VERSION = 1

# Flags that may differ when resuming: those that do not change what is learnt (--out may be
# spelled another way; the checkpoint found beside it is its own; --device is checked separately,
# on the device it resolves to), and how long to go on.
MAY_CHANGE = Config.run_only() | {"epochs", "patience"}


@dataclass
class Progress:
    """Where a run stands after its last finished epoch."""

    epoch: int = 0  # epochs finished
    best: float = -1.0  # best dev accuracy so far
    best_epoch: int = 0  # the epoch of the model saved in --out
    history: list = field(default_factory=list)
    seconds: float = 0.0  # time spent training, over every session of the run
    stopped: bool = False  # early stopping has ended the epochs


@dataclass
class Checkpoint:
    path: Path
    progress: Progress
    trained_with: dict  # what must match on resume: settings, vocabulary, device
    tensors: dict
    param_groups: list


def path_for(out) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".checkpoint.safetensors")


def identity(config: Config, vocab_json: str, device: torch.device, processes: int = 1) -> dict:
    """What a resumed run must share with the run it continues. The vocabulary stands for the
    corpus: a corpus file changed in between would silently shift every word id. The number of
    processes (torchrun's world size) makes the batches, as a flag would."""
    # Through JSON, as the checkpoint keeps it: a tuple of values reads back as a list.
    settings = json.loads(json.dumps({k: v for k, v in asdict(config).items()
                                      if k not in MAY_CHANGE}))
    return {"config": settings,
            "vocab_sha256": hashlib.sha256(vocab_json.encode()).hexdigest(),
            "device": device.type, "processes": processes}


def save(path, model, optimizer, generators: dict, progress: Progress, trained_with: dict,
         rng_states: dict = None, averaged=None):
    """Replace the checkpoint at `path`; `generators` are the torch.Generators to restore, by name,
    `rng_states` the states of those other processes hold (name -> state tensor), and `averaged`
    the AveragedModel of --ema-decay, if any."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    if averaged is not None:
        tensors.update({f"averaged.{k}": v for k, v in averaged.state_dict().items()})
    optimizer_state = optimizer.state_dict()
    for index, values in optimizer_state["state"].items():
        for key, value in values.items():
            if not isinstance(value, torch.Tensor):  # Adam keeps only tensors; others would be lost
                raise TypeError(f"optimizer state {key} is a {type(value).__name__}, not a tensor")
            tensors[f"optimizer.{index}.{key}"] = value
    tensors.update({f"rng.{name}": g.get_state() for name, g in generators.items()})
    tensors.update({f"rng.{name}": state for name, state in (rng_states or {}).items()})
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    metadata = {"checkpoint": json.dumps({
        "format_version": CHECKPOINT_VERSION, "progress": asdict(progress),
        "trained_with": trained_with, "param_groups": optimizer_state["param_groups"]})}
    write_atomic(Path(path), lambda p: save_file(tensors, p, metadata=metadata))


def read(path) -> Checkpoint:
    """The checkpoint at `path`; anything missing or damaged is a one-line TaggerError."""
    path = Path(path)
    if not path.is_file():
        raise TaggerError(f"no checkpoint to resume from at '{path}' (a run leaves one after each "
                          "epoch until it ends); train without --resume to start afresh")
    try:
        with safe_open(path, "pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
            header = json.loads((f.metadata() or {})["checkpoint"])
        if header.get("format_version") != CHECKPOINT_VERSION:
            raise ValueError(f"format version {header.get('format_version')}, this tagger reads "
                             f"version {CHECKPOINT_VERSION}")
        known = {f.name for f in fields(Progress)}
        progress = Progress(**{k: v for k, v in header["progress"].items() if k in known})
        return Checkpoint(path, progress, header["trained_with"], tensors, header["param_groups"])
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise TaggerError(f"checkpoint '{path}' cannot be read ({_first_line(e)}); train without "
                          "--resume to start afresh") from None


def check_matches(checkpoint: Checkpoint, trained_with: dict):
    """Refuse to resume with settings, data or a device other than the checkpoint's."""
    saved = checkpoint.trained_with
    fix = "resume with the settings of the run, or train without --resume to start afresh"
    for name, value in trained_with["config"].items():
        if saved["config"].get(name, value) != value:
            flag = "--" + name.replace("_", "-")
            raise TaggerError(f"checkpoint '{checkpoint.path}' was made with {flag} "
                              f"{saved['config'][name]}, not {value}; {fix}")
    if saved.get("vocab_sha256") != trained_with["vocab_sha256"]:
        raise TaggerError(f"the corpus is not the one checkpoint '{checkpoint.path}' was trained "
                          f"on (its vocabulary differs); {fix}")
    processes = saved.get("processes", 1)  # a checkpoint from before torchrun runs: one
    if processes != trained_with["processes"]:
        raise TaggerError(f"checkpoint '{checkpoint.path}' was made by a run on "
                          f"{_processes(processes)}, not {_processes(trained_with['processes'])}; "
                          f"resume it on {processes} (torchrun's --nnodes x --nproc_per_node; "
                          "1 is without torchrun)")
    if saved.get("device") != trained_with["device"]:
        raise TaggerError(f"checkpoint '{checkpoint.path}' was made on {saved.get('device')}, not "
                          f"{trained_with['device']}; resume with --device {saved.get('device')}")


def restore(checkpoint: Checkpoint, model, optimizer, generators: dict, averaged=None):
    """Put the checkpoint's weights, optimizer state, random states and averaged weights back."""
    tensors = checkpoint.tensors
    state = {}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value

    def under(prefix):  # the state_dict that save() stored under this prefix
        return {name.removeprefix(prefix): value for name, value in tensors.items()
                if name.startswith(prefix)}

    try:
        model.load_state_dict(under("model."))
        optimizer.load_state_dict({"state": state, "param_groups": checkpoint.param_groups})
        if averaged is not None:
            averaged.load_state_dict(under("averaged."))
        for name, generator in generators.items():
            generator.set_state(tensors[f"rng.{name}"])
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        raise TaggerError(f"checkpoint '{checkpoint.path}' does not fit the model it should resume "
                          f"({_first_line(e)}); train without --resume to start afresh") from None


def _processes(n):
    return f"{n} process" if n == 1 else f"{n} processes"


def _first_line(error):
    return str(error).strip().split("\n")[0]
