"""A trained tagger as a folder of plain files, saved atomically and loaded without running code.

    config.json        the Config it was trained with (JSON, with a format version)
    vocab.json         word, character and tag indexes (JSON)
    model.safetensors  the weights: tensors only, so loading can never execute code
    metrics.json       training history and final scores

A save writes a complete new folder beside the old one, then swaps the two by renaming, so an
interrupted run leaves either the previous model or the new one, never a mix. It replaces only a
model folder: a folder holding anything else is refused, never swapped away.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from tagger.config import Config
from tagger.errors import TaggerError
from tagger.model import Pretrained, Tagger
from tagger.vocab import Vocab

FILES = ("config.json", "vocab.json", "model.safetensors")
MODEL_FILES = FILES + ("metrics.json",)
# What an interrupted write_atomic of a model file can leave in the folder.
TEMPORARY = tuple(f".{name}." for name in MODEL_FILES)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, write):
    """Write one file through a temporary name in the same folder and rename it into place, so
    the file is always either the old one or the complete new one; `write(name)` writes it."""
    path = Path(path)
    tmp = None
    try:  # an interrupt (Ctrl-C, or SIGTERM as tagger.bulk raises it) may come at any line here
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide the model from other users
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise
    for stale in path.parent.glob(f".{path.name}.*"):  # what a killed write left
        stale.unlink(missing_ok=True)


def check_out(folder):
    """Refuse an --out that is not a model folder: a save replaces the whole folder, and must never
    take a user's other files with it."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise TaggerError(f"--out '{folder}' is a file, not a model folder; choose another --out")
    if folder.is_dir():
        others = sorted(p.name for p in folder.iterdir()
                        if p.name not in MODEL_FILES and not p.name.startswith(TEMPORARY))
        if others:
            raise TaggerError(f"--out '{folder}' is not a model folder (it holds {others[0]!r}), "
                              "and saving would replace it; choose another --out")


def save(folder, model: Tagger, vocab: Vocab, config: Config, metrics: dict):
    """Save a model folder, replacing any model already there only once the new one is complete."""
    folder = Path(folder)
    check_out(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        new = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.new-"))
    except OSError as e:
        raise _save_error(folder, e) from None
    try:
        os.chmod(new, 0o777 & ~_umask())
        write_atomic(new / "config.json", lambda p: Path(p).write_text(config.to_json()))
        write_atomic(new / "vocab.json", lambda p: Path(p).write_text(vocab.to_json()))
        # The second head of multi-task training (`--brown-tags`) stays behind: the saved
        # tagger is the Penn one, and loads without it.
        weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
                   if not k.startswith("aux_head.")}
        write_atomic(new / "model.safetensors", lambda p: save_file(weights, p))
        save_metrics(new, metrics)
        old = folder.parent / f".{folder.name}.old-{os.getpid()}"
        if folder.exists():
            os.rename(folder, old)  # from here until the next rename, `old` is the model
        os.rename(new, folder)
    except BaseException as e:
        shutil.rmtree(new, ignore_errors=True)
        if isinstance(e, OSError):
            raise _save_error(folder, e) from None
        raise
    # Ours, and any that a run killed mid-save left.
    for stale in folder.parent.glob(f".{folder.name}.old-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in folder.parent.glob(f".{folder.name}.new-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _save_error(folder, e: OSError):
    return TaggerError(f"cannot save the model to '{folder}' ({e.strerror or e}); any model "
                       "saved there before is kept; free some space or fix the permissions")


def save_metrics(folder, metrics: dict):
    """Replace only the report of a saved model."""
    try:
        write_atomic(Path(folder) / "metrics.json",
                     lambda p: Path(p).write_text(json.dumps(metrics, indent=2)))
    except OSError as e:
        raise _save_error(folder, e) from None


def _previous(folder: Path) -> Path:
    """The folder to read: a save killed between its two renames leaves the previous model as
    `.NAME.old-PID`, which stands in for the missing folder until the next save."""
    if not folder.exists():
        olds = sorted(folder.parent.glob(f".{folder.name}.old-*"), key=os.path.getmtime)
        if olds:
            return olds[-1]
    return folder


def load(folder, device="cpu"):
    """-> (model in eval mode, vocab, config, metrics). Every problem is a one-line TaggerError."""
    folder = _previous(Path(folder))
    if not folder.is_dir():
        raise TaggerError(f"no model in '{folder}'; train one with: python -m tagger.train "
                          f"--out {folder}")
    for name in FILES:
        if not (folder / name).is_file():
            raise TaggerError(f"model folder '{folder}' has no {name}; retrain it with: "
                              f"python -m tagger.train --out {folder}")
    try:
        config = Config.from_json((folder / "config.json").read_text(), folder / "config.json")
        vocab = Vocab.from_json((folder / "vocab.json").read_text(), folder / "vocab.json")
    except UnicodeDecodeError:
        raise TaggerError(f"model folder '{folder}' has a file that is not UTF-8 text; "
                          "retrain the model") from None
    except OSError as e:
        raise TaggerError(f"cannot read '{e.filename}' ({e.strerror}); check its permissions") from None
    try:
        weights = load_file(folder / "model.safetensors", device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise TaggerError(f"{folder / 'model.safetensors'} is not a readable safetensors file "
                          f"({e}); retrain the model") from None
    # A damaged or hand-edited config.json holds values the flags would have refused.
    try:
        config.validate()
        # What pretraining added travels inside the model; its sizes are its weights' shapes.
        model = Tagger(config, len(vocab.words), len(vocab.chars), len(vocab.tags),
                       Pretrained.sizes(weights))
    except (TaggerError, KeyError, TypeError, ValueError, RuntimeError) as e:
        detail = f"unknown encoder {e}" if isinstance(e, KeyError) else str(e).split("\n")[0]
        raise TaggerError(f"{folder / 'config.json'} has an invalid setting ({detail}); "
                          "retrain the model") from None
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in weights.items()}
    if expected != found:
        diff = sorted(k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k))
        k = diff[0]
        raise TaggerError(f"{folder / 'model.safetensors'} does not match its config and vocab "
                          f"({k}: expected {expected.get(k)}, got {found.get(k)}); retrain the model")
    model.load_state_dict(weights)
    metrics_file = folder / "metrics.json"
    try:
        metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        metrics = {}  # only a report; the model itself is intact
    return model.to(device).eval(), vocab, config, metrics

