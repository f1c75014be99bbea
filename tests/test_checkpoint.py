"""Tests for tagger.checkpoint: a checkpoint gives back the very state it saved (weights, optimizer,
random generators, progress), refuses to resume another run, and is data, never code."""

import json
import pickle

import pytest
import torch

from conftest import TINY
from tagger import checkpoint
from tagger.checkpoint import Progress
from tagger.config import Config
from tagger.data import TOY_DIR, read_tagged
from tagger.errors import TaggerError
from tagger.model import Tagger
from tagger.vocab import Vocab

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def vocab():
    return Vocab.build(read_tagged(TOY_DIR / "train.txt"))


def trained_a_step(vocab, seed):
    """A model, its Adam optimizer after one step, and a generator that has drawn, all from seed."""
    config = Config(**TINY)
    torch.manual_seed(seed)
    model = Tagger(config, len(vocab.words), len(vocab.chars), len(vocab.tags))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    batch = vocab.batch([["The", "dog", "ate"]], [["DT", "NN", "VBD"]])
    torch.nn.functional.nll_loss(model(batch).flatten(0, 1), batch.tags.flatten()).backward()
    optimizer.step()
    generator = torch.Generator().manual_seed(seed)
    torch.rand(5, generator=generator)
    return config, model, optimizer, generator


@pytest.fixture
def saved(tmp_path, vocab):
    config, model, optimizer, generator = trained_a_step(vocab, seed=0)
    progress = Progress(epoch=3, best=0.5, best_epoch=2, seconds=1.5,
                        history=[{"epoch": 1, "loss": 2.0, "dev_accuracy": 0.25}])
    identity = checkpoint.identity(config, vocab.to_json(), CPU)
    path = checkpoint.path_for(tmp_path / "models" / "m")
    path.parent.mkdir()
    checkpoint.save(path, model, optimizer, {"shuffle": generator}, progress, identity)
    return path, config, model, optimizer, generator, progress, identity


def test_the_checkpoint_lies_beside_the_model_folder(tmp_path):
    assert checkpoint.path_for("models/latest") == checkpoint.path_for("models/latest/")
    assert str(checkpoint.path_for("models/latest")) == "models/latest.checkpoint.safetensors"


def test_restore_gives_back_the_saved_state_exactly(saved, vocab):
    path, config, model, optimizer, generator, progress, identity = saved
    read = checkpoint.read(path)
    assert read.progress == progress and read.trained_with == json.loads(json.dumps(identity))
    # Into a model, optimizer and generator that started elsewhere.
    _, other, other_optimizer, other_generator = trained_a_step(vocab, seed=1)
    checkpoint.restore(read, other, other_optimizer, {"shuffle": other_generator})
    for name, value in model.state_dict().items():
        assert torch.equal(other.state_dict()[name], value), name
    assert torch.equal(other_generator.get_state(), generator.get_state())
    # The optimizer goes on as the original would: the same next step, bit for bit (without
    # dropout, whose draws come from torch's global generator).
    batch = vocab.batch([["A", "cat", "."]], [["DT", "NN", "."]])
    for m, opt in ((model.eval(), optimizer), (other.eval(), other_optimizer)):
        opt.zero_grad()
        torch.nn.functional.nll_loss(m(batch).flatten(0, 1), batch.tags.flatten()).backward()
        opt.step()
    for name, value in model.state_dict().items():
        assert torch.equal(other.state_dict()[name], value), name
    assert torch.equal(torch.rand(3, generator=other_generator), torch.rand(3, generator=generator))


def test_a_missing_checkpoint_says_how_to_start_afresh(tmp_path):
    with pytest.raises(TaggerError) as info:
        checkpoint.read(tmp_path / "m.checkpoint.safetensors")
    assert str(info.value) == (f"no checkpoint to resume from at '{tmp_path}/m.checkpoint."
                               "safetensors' (a run leaves one after each epoch until it ends); "
                               "train without --resume to start afresh")


def without_metadata(path):
    from safetensors.torch import load_file, save_file
    save_file(load_file(path), path)


def other_version(path):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file
    with safe_open(path, "pt") as f:
        header = json.loads(f.metadata()["checkpoint"])
    save_file(load_file(path), path, metadata={"checkpoint": json.dumps(
        {**header, "format_version": checkpoint.CHECKPOINT_VERSION + 1})})


@pytest.mark.parametrize("damage", [
    lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    lambda path: path.write_bytes(b""),
    without_metadata,
    other_version,
], ids=["truncated", "empty", "no-metadata", "other-version"])
def test_a_damaged_checkpoint_is_a_one_line_error(saved, damage):
    path = saved[0]
    damage(path)
    with pytest.raises(TaggerError) as info:
        checkpoint.read(path)
    message = str(info.value)
    assert message.startswith(f"checkpoint '{path}' cannot be read (") and "\n" not in message
    assert message.endswith("train without --resume to start afresh")


def test_a_pickled_checkpoint_is_refused_without_running_it(saved, tmp_path, payload):
    path = saved[0]
    marker = tmp_path / "pwned"
    path.write_bytes(pickle.dumps({"model.head.weight": payload(marker)}))
    with pytest.raises(TaggerError, match="cannot be read"):
        checkpoint.read(path)
    assert not marker.exists()


def test_a_checkpoint_of_another_shape_does_not_restore(saved, vocab):
    path = saved[0]
    config = Config(**{**TINY, "hidden_size": 8})
    model = Tagger(config, len(vocab.words), len(vocab.chars), len(vocab.tags))
    optimizer = torch.optim.Adam(model.parameters())
    with pytest.raises(TaggerError, match="does not fit the model it should resume"):
        checkpoint.restore(checkpoint.read(path), model, optimizer, {})


@pytest.mark.parametrize("change", [{"epochs": 60}, {"patience": 0}, {"threads": 3},
                                    {"progress": False}, {"out": "elsewhere"}, {"resume": True},
                                    {"device": "cpu"}])
def test_how_long_and_where_may_change_on_resume(saved, vocab, change):
    path, config = saved[:2]
    changed = Config(**{**TINY, **change})
    checkpoint.check_matches(checkpoint.read(path), checkpoint.identity(changed, vocab.to_json(),
                                                                        CPU))


@pytest.mark.parametrize("change,flag", [({"hidden_size": 32}, "--hidden-size 16, not 32"),
                                         ({"seed": 7}, "--seed 1, not 7"),
                                         ({"corpus": "x.txt"}, "--corpus auto, not x.txt"),
                                         ({"lr": 0.1}, "--lr 0.002, not 0.1")])
def test_what_is_learned_may_not_change_on_resume(saved, vocab, change, flag):
    path = saved[0]
    identity = checkpoint.identity(Config(**{**TINY, **change}), vocab.to_json(), CPU)
    with pytest.raises(TaggerError) as info:
        checkpoint.check_matches(checkpoint.read(path), identity)
    assert str(info.value) == (f"checkpoint '{path}' was made with {flag}; resume with the "
                               "settings of the run, or train without --resume to start afresh")


def test_another_corpus_or_device_may_not_resume(saved, vocab):
    path, config = saved[:2]
    read = checkpoint.read(path)
    other_corpus = checkpoint.identity(config, Vocab.build([[("x", "NN")]]).to_json(), CPU)
    with pytest.raises(TaggerError, match="the corpus is not the one .* vocabulary differs"):
        checkpoint.check_matches(read, other_corpus)
    on_gpu = checkpoint.identity(config, vocab.to_json(), torch.device("cuda"))
    with pytest.raises(TaggerError, match="was made on cpu, not cuda; resume with --device cpu"):
        checkpoint.check_matches(read, on_gpu)


def test_other_processes_random_states_are_kept_and_their_number_may_not_change(saved, vocab):
    """A run on several processes (torchrun) saves the random states of every rank, and resumes
    only on as many processes: their number makes the batches."""
    path, config, model, optimizer, generator, progress, one = saved
    rank1 = torch.Generator().manual_seed(5)
    torch.rand(3, generator=rank1)
    two = checkpoint.identity(config, vocab.to_json(), CPU, processes=2)
    checkpoint.save(path, model, optimizer, {"shuffle": generator}, progress, two,
                    rng_states={"torch.rank1": rank1.get_state()})
    read = checkpoint.read(path)
    restored = torch.Generator()
    checkpoint.restore(read, model, optimizer, {"shuffle": torch.Generator(),
                                                "torch.rank1": restored})
    assert torch.equal(restored.get_state(), rank1.get_state())
    checkpoint.check_matches(read, two)
    with pytest.raises(TaggerError) as info:
        checkpoint.check_matches(read, one)
    assert str(info.value) == (f"checkpoint '{path}' was made by a run on 2 processes, not 1 "
                               "process; resume it on 2 (torchrun's --nnodes x --nproc_per_node; "
                               "1 is without torchrun)")
    # A checkpoint from before runs on several processes came from one.
    del read.trained_with["processes"]
    checkpoint.check_matches(read, one)
    with pytest.raises(TaggerError, match="made by a run on 1 process, not 2 processes"):
        checkpoint.check_matches(read, two)
