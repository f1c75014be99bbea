"""Tests for tagger.storage: a model folder round-trips, every kind of broken folder is a one-line
error (in Python and on the command line), pickles are never run, saves replace atomically and
only ever a model folder."""

import json
import os
import pickle

import pytest
import torch

from conftest import TINY, assert_same_weights
from tagger import storage
from tagger.config import FORMAT_VERSION, Config
from tagger.data import TOY_DIR, read_tagged
from tagger.errors import TaggerError
from tagger.model import Tagger
from tagger.vocab import Vocab

METRICS = {"corpus": "toy", "history": [{"epoch": 1, "loss": 2.5}], "test": {"accuracy": 0.5}}


@pytest.fixture(scope="module")
def vocab():
    return Vocab.build(read_tagged(TOY_DIR / "train.txt"))


def make(vocab, seed=0, **overrides):
    config = Config(**{**TINY, **overrides})
    torch.manual_seed(seed)
    return Tagger(config, len(vocab.words), len(vocab.chars), len(vocab.tags)), config


@pytest.fixture
def saved(tmp_path, vocab):
    """A saved model folder, and the model, config and vocab it holds."""
    model, config = make(vocab)
    folder = tmp_path / "models" / "m"
    storage.save(folder, model, vocab, config, METRICS)
    return folder, model, config


def load_error(folder):
    with pytest.raises(TaggerError) as info:
        storage.load(folder)
    message = str(info.value)
    assert "\n" not in message and ("retrain" in message or "train one" in message), message
    return message


# --- round trip ------------------------------------------------------------------------------


@pytest.mark.parametrize("encoder", ["hand", "torch"])
def test_save_then_load_gives_back_the_same_model(tmp_path, vocab, encoder):
    model, config = make(vocab, encoder=encoder, num_layers=2, bidirectional=False)
    storage.save(tmp_path / "m", model, vocab, config, METRICS)
    assert sorted(os.listdir(tmp_path / "m")) == sorted(storage.FILES + ("metrics.json",))
    loaded, loaded_vocab, loaded_config, metrics = storage.load(tmp_path / "m")
    assert_same_weights(loaded, model)
    assert type(loaded.lstm) is type(model.lstm) and not loaded.training
    assert loaded_vocab == vocab and loaded_vocab.forms == vocab.forms
    assert loaded_config == config and metrics == METRICS
    batch = vocab.batch([["The", "dog", "ate", "the", "Zebra"]])
    with torch.no_grad():
        assert torch.equal(loaded(batch), model.eval()(batch))


def test_saved_files_are_readable_by_others_as_the_umask_allows(tmp_path, vocab):
    model, config = make(vocab)
    old = os.umask(0o022)
    try:
        storage.save(tmp_path / "m", model, vocab, config, METRICS)
    finally:
        os.umask(old)
    assert (tmp_path / "m").stat().st_mode & 0o777 == 0o755
    for name in storage.FILES + ("metrics.json",):
        assert (tmp_path / "m" / name).stat().st_mode & 0o777 == 0o644, name


def test_a_broken_metrics_file_still_loads_the_model(saved):
    folder, model, _ = saved
    (folder / "metrics.json").write_text("{not json")
    loaded, _, _, metrics = storage.load(folder)
    assert metrics == {}
    assert_same_weights(loaded, model)
    (folder / "metrics.json").unlink()
    assert storage.load(folder)[3] == {}


# --- broken folders --------------------------------------------------------------------------


def test_no_folder_says_how_to_train_one(tmp_path):
    message = load_error(tmp_path / "nothing")
    assert message == (f"no model in '{tmp_path / 'nothing'}'; train one with: "
                       f"python -m tagger.train --out {tmp_path / 'nothing'}")


@pytest.mark.parametrize("name", storage.FILES)
def test_a_missing_file_is_named(saved, name):
    folder = saved[0]
    (folder / name).unlink()
    assert f"has no {name}" in load_error(folder)


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def header_too_long(path):
    path.write_bytes((10 ** 12).to_bytes(8, "little") + b'{"a": 1}')


def header_not_json(path):
    path.write_bytes((8).to_bytes(8, "little") + b"\xff\xfe{oops}")


def offsets_out_of_range(path):
    header = json.dumps({"head.bias": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}})
    path.write_bytes(len(header).to_bytes(8, "little") + header.encode() + b"\0" * 16)


@pytest.mark.parametrize("damage", [
    truncate,
    lambda path: path.write_bytes(b""),
    lambda path: path.write_bytes(os.urandom(3000)),
    header_too_long,
    header_not_json,
    offsets_out_of_range,
], ids=["truncated", "empty", "garbage", "header-too-long", "header-not-json", "bad-offsets"])
def test_damaged_weights_are_refused(saved, damage):
    folder = saved[0]
    damage(folder / "model.safetensors")
    assert "model.safetensors" in load_error(folder)


@pytest.mark.parametrize("name", ["config.json", "vocab.json"])
def test_another_format_version_is_refused(saved, name):
    folder = saved[0]
    data = json.loads((folder / name).read_text())
    data["format_version"] = FORMAT_VERSION + 1
    (folder / name).write_text(json.dumps(data))
    message = load_error(folder)
    assert f"version {FORMAT_VERSION + 1}" in message and name in message


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00garbage", b"[1, 2]", b"null"])
@pytest.mark.parametrize("name", ["config.json", "vocab.json"])
def test_unreadable_json_is_refused(saved, name, content):
    folder = saved[0]
    (folder / name).write_bytes(content)
    load_error(folder)


@pytest.mark.parametrize("setting", [
    {"hidden_size": "128"}, {"encoder": "foo"}, {"num_layers": 0}, {"embedding_size": -3},
    {"char_hidden_size": 2.5}, {"surprise": 1},
])
def test_invalid_settings_in_config_json_are_refused(saved, setting):
    folder = saved[0]
    data = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**data, **setting}))
    assert "config.json" in load_error(folder)


def test_weights_that_do_not_match_the_vocab_are_refused(saved, vocab):
    folder = saved[0]
    bigger = Vocab(vocab.words + ["zebra"], vocab.chars, vocab.tags, vocab.word_counts + [1])
    (folder / "vocab.json").write_text(bigger.to_json())
    message = load_error(folder)
    assert "word_embedding.weight" in message
    assert f"expected {(len(vocab.words) + 1, 16)}, got {(len(vocab.words), 16)}" in message


@pytest.mark.parametrize("setting", [{"hidden_size": 32}, {"bidirectional": False},
                                     {"num_layers": 2}, {"encoder": "torch"}])
def test_weights_that_do_not_match_the_config_are_refused(saved, setting):
    folder, model, _ = saved
    data = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**data, **setting}))
    if setting == {"encoder": "torch"}:  # the same parameters: the weights move between the two
        assert_same_weights(storage.load(folder)[0], model)
    else:
        assert "does not match its config and vocab" in load_error(folder)


# --- pickles are data, never code ------------------------------------------------------------


def torch_load(path):
    copy = path.with_name("weights.pt")  # torch.load reads a .safetensors name as safetensors
    copy.write_bytes(path.read_bytes())
    torch.load(copy, weights_only=False)


@pytest.mark.parametrize("write,unpickle", [
    (lambda obj, path: torch.save(obj, path), torch_load),
    (lambda obj, path: torch.save(obj, path, _use_new_zipfile_serialization=False), torch_load),
    (lambda obj, path: path.write_bytes(pickle.dumps(obj)),
     lambda path: pickle.loads(path.read_bytes())),
], ids=["torch-zip", "torch-legacy", "pickle"])
def test_a_pickled_weights_file_is_refused_without_running_it(saved, tmp_path, payload, write,
                                                              unpickle):
    folder = saved[0]
    marker = tmp_path / "pwned"
    write({"head.weight": payload(marker)}, folder / "model.safetensors")
    assert "model.safetensors" in load_error(folder)
    assert not marker.exists()
    # The file is a real threat: loading it the pickle way does run it.
    unpickle(folder / "model.safetensors")
    assert marker.exists()


# --- the command line ------------------------------------------------------------------------


# Every kind of damage is a TaggerError above, which the command line prints as one line; these
# kinds, through different checks, show it end to end (each run pays for importing torch).
@pytest.mark.parametrize("damage", ["pickle", "vocab-size", "missing-file", "truncated",
                                    "other-version"])
def test_cli_reports_a_broken_model_in_one_line(saved, tmp_path, payload, run_cli, one_line_error,
                                                damage):
    folder = saved[0]
    marker = tmp_path / "pwned"
    if damage == "pickle":
        torch.save({"head.weight": payload(marker)}, folder / "model.safetensors")
    elif damage == "vocab-size":
        (folder / "vocab.json").write_text(Vocab.build([[("x", "NN")]]).to_json())
    elif damage == "missing-file":
        (folder / "vocab.json").unlink()
    elif damage == "truncated":
        truncate(folder / "model.safetensors")
    else:
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "format_version": 0}))
    result = run_cli("tagger.tag", "--model", str(folder), "a dog", cwd=tmp_path)
    assert result.stdout == ""
    assert "retrain" in one_line_error(result, str(folder))
    assert not marker.exists()


# --- saving over a model ---------------------------------------------------------------------


def test_saving_over_a_model_replaces_it_completely(saved, vocab):
    folder, _, _ = saved
    other_vocab = Vocab.build(read_tagged(TOY_DIR / "dev.txt"))
    model, config = make(other_vocab, seed=5, encoder="torch", hidden_size=8)
    storage.save(folder, model, other_vocab, config, {"new": True})
    assert sorted(os.listdir(folder)) == sorted(storage.FILES + ("metrics.json",))
    loaded, loaded_vocab, loaded_config, metrics = storage.load(folder)
    assert_same_weights(loaded, model)
    assert loaded_vocab == other_vocab != vocab and loaded_config == config and metrics == {"new": True}
    assert os.listdir(folder.parent) == ["m"]  # no temporary folders or files beside it


def test_a_failed_save_leaves_the_old_model_and_no_litter(saved, vocab, monkeypatch):
    folder, model, config = saved

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(storage, "save_file", fail)
    other, _ = make(vocab, seed=9)
    with pytest.raises(TaggerError, match=f"cannot save the model to '{folder}' \\(disk full\\)"):
        storage.save(folder, other, vocab, config, {})
    assert os.listdir(folder.parent) == ["m"]
    assert sorted(os.listdir(folder)) == sorted(storage.FILES + ("metrics.json",))
    loaded, _, _, metrics = storage.load(folder)
    assert_same_weights(loaded, model)
    assert metrics == METRICS


def test_a_save_killed_between_its_renames_leaves_the_previous_model(saved):
    folder, model, _ = saved
    # What a run killed after moving the old model aside, before moving the new one in, leaves.
    os.rename(folder, folder.parent / ".m.old-12345")
    (folder.parent / ".m.new-abc").mkdir()
    loaded = storage.load(folder)[0]
    assert_same_weights(loaded, model)
    # Loading reads the previous model where it lies (moving it could race a running save) ...
    assert not folder.exists() and (folder.parent / ".m.old-12345").is_dir()
    # ... and the next save clears it away, with the half-written folder the kill left.
    storage.save(folder, model, storage.load(folder)[1], storage.load(folder)[2], {})
    assert os.listdir(folder.parent) == ["m"]


def test_a_write_killed_before_its_rename_leaves_the_file_whole_and_the_next_clears_up(saved):
    folder = saved[0]
    # What a run killed while writing metrics.json leaves: the old file and a temporary beside it.
    (folder / ".metrics.json.k1ll3d").write_text('{"half": ')
    assert storage.load(folder)[3] == METRICS
    storage.save_metrics(folder, {"new": 1})
    assert sorted(os.listdir(folder)) == sorted(storage.MODEL_FILES)
    assert storage.load(folder)[3] == {"new": 1}


@pytest.mark.parametrize("other", ["notes.txt", "checkpoint.pt", "sub/"])
def test_a_folder_holding_anything_else_is_never_replaced(tmp_path, saved, vocab, other):
    """--out . or --out ~ must not swap a user's folder away with a model."""
    folder, model, config = saved
    path = folder / other.rstrip("/")
    path.mkdir() if other.endswith("/") else path.write_text("mine")
    with pytest.raises(TaggerError) as info:
        storage.save(folder, make(vocab, seed=3)[0], vocab, config, {})
    assert str(info.value) == (f"--out '{folder}' is not a model folder (it holds "
                               f"'{path.name}'), and saving would replace it; choose another --out")
    assert path.exists() and sorted(os.listdir(folder.parent)) == ["m"]
    assert_same_weights(storage.load(folder)[0], model)
    # Neither is a file, which a save would otherwise replace by a folder.
    with pytest.raises(TaggerError, match="is a file, not a model folder"):
        storage.save(path if path.is_file() else folder / "model.safetensors", model, vocab,
                     config, {})


def test_a_save_that_cannot_write_is_a_one_line_error(tmp_path, saved, vocab):
    folder, model, config = saved
    blocker = tmp_path / "plain-file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(TaggerError) as info:
        storage.save(blocker / "m", model, vocab, config, {})
    assert str(info.value).startswith(f"cannot save the model to '{blocker / 'm'}' (")
    assert blocker.read_text() == "a file where a folder should be"
