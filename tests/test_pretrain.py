"""Tests for tagger.pretrain: word vectors, the two language models, saving and
loading them, and a tagger trained on top of them (frozen, carried inside the model folder)."""

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from tagger import pretrain, storage
from tagger.config import Config
from tagger.data import TOY_DIR, read_tagged
from tagger.model import Pretrained
from tagger.pretrain import PretrainedText, Settings
from tagger.train import train
from tagger.vocab import Vocab, vector_key

TINY = dict(size=8, window=2, min_count=1, epochs=2, negative=3, lm_hidden_size=8, lm_epochs=1,
            lm_batch_size=8, threads=1, jobs=1)


@pytest.fixture(scope="module")
def raw_file(tmp_path_factory):
    """The toy corpus's training sentences as raw text, tags dropped, two sentences a line."""
    sentences = [" ".join(w for w, _ in s) for s in read_tagged(TOY_DIR / "train.txt")]
    path = tmp_path_factory.mktemp("raw") / "raw.txt"
    path.write_text("\n".join(a + " " + b for a, b in zip(sentences[::2], sentences[1::2])))
    return path


@pytest.fixture(scope="module")
def pretrained(raw_file, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretrained") / "p"
    result = pretrain.pretrain(Settings(text=(str(raw_file),), **TINY), log=lambda m: None)
    result.save(folder)
    return folder, result


def test_vector_key_merges_case_and_digits():
    assert vector_key("Dog") == vector_key("DOG") == "dog"
    assert vector_key("1,234.5") == "0,000.0"


def test_pretraining_gives_a_vector_to_every_word_seen_and_zero_to_pad_and_unk(pretrained):
    _, result = pretrained
    vectors = result.weights["vectors.weight"]
    assert result.words[:2] == ["<pad>", "<unk>"] and "dog" in result.words
    assert vectors.shape == (len(result.words), TINY["size"])
    assert vectors[:2].abs().sum() == 0 and (vectors[2:].norm(dim=1) > 0).all()
    assert result.sizes == (len(result.words), TINY["size"], TINY["lm_hidden_size"])


@pytest.mark.parametrize("kind", ["word2vec", "fasttext"])
def test_vectors_are_gensims_and_fasttext_also_places_words_below_min_count(kind):
    """Checked against gensim's own model trained on the same text with the same seed; fastText
    also gives a word seen once, below --min-count, the vector it builds from its n-grams."""
    from gensim.models import FastText, Word2Vec

    sentences = [["the", "dog", "ate", "the", "apple"], ["the", "cat", "ate", "the", "pear"]] * 20
    sentences.append(["the", "dogs", "ate"])  # "dogs": once, below min_count 2
    settings = Settings(**{**TINY, "min_count": 2, "vectors": kind})
    words, vectors = pretrain.train_vectors(sentences, settings)
    reference = {"word2vec": Word2Vec, "fasttext": FastText}[kind](
        sentences, vector_size=settings.size, window=settings.window, min_count=2, sg=1,
        negative=settings.negative, epochs=settings.epochs, seed=settings.seed, workers=1,
        hashfxn=pretrain._stable_hash)
    assert words[:2] == ["<pad>", "<unk>"] and "dog" in words
    assert "dogs" not in reference.wv.key_to_index  # below min_count for gensim itself
    assert ("dogs" in words) == (kind == "fasttext")
    found = torch.from_numpy(reference.wv[words[2:]])
    torch.testing.assert_close(vectors[2:], found / found.std())
    assert vectors[:2].abs().sum() == 0


def test_the_same_seed_gives_the_same_weights(raw_file):
    settings = Settings(text=(str(raw_file),), **TINY)
    a, b = (pretrain.pretrain(settings, log=lambda m: None) for _ in range(2))
    assert a.words == b.words
    assert all(torch.equal(a.weights[k], b.weights[k]) for k in a.weights)


def test_the_language_models_train_alike_one_after_the_other_or_at_once(raw_file):
    """--jobs 2 trains the two directions in two spawned processes: each from its own seed, so
    the weights must be those of --jobs 1, to the bit."""
    settings = Settings(text=(str(raw_file),), **TINY)
    a = pretrain.pretrain(settings, log=lambda m: None)
    b = pretrain.pretrain(Settings(**{**vars(settings), "jobs": 2}), log=lambda m: None)
    assert a.weights.keys() == b.weights.keys()
    assert [k for k in a.weights if not torch.equal(a.weights[k], b.weights[k])] == []


def test_the_language_models_learn_to_predict_neighbours():
    """On text where every word fixes its neighbours, both directions must beat a uniform guess
    over the 20 words (perplexity 20) by far."""
    ring = [f"w{i}" for i in range(20)]
    sentences = [[2 + (start + i) % 20 for i in range(12)] for start in range(20)] * 12
    settings = Settings(lm_hidden_size=32, lm_epochs=4, lm_batch_size=16, lm_lr=1e-2, jobs=1)
    module = Pretrained(2 + len(ring), 8, settings.lm_hidden_size)
    torch.manual_seed(0)
    module.vectors.weight.copy_(torch.randn(2 + len(ring), 8))
    messages = []
    pretrain.train_language_model(module, sentences, settings, messages.append)
    # "language models: perplexity forward 1.4, backward 1.5"
    found = dict(part.split() for part in messages[-1].split("perplexity ")[1].split(", "))
    assert found.keys() == {"forward", "backward"}, messages
    assert all(float(p) < 3 for p in found.values()), messages
    assert not any(p.requires_grad for p in module.parameters())  # frozen again for the tagger


def test_save_and_load_round_trip(pretrained):
    folder, result = pretrained
    loaded = PretrainedText.load(folder)
    assert loaded.words == result.words and loaded.sizes == result.sizes
    assert all(torch.equal(loaded.weights[k], result.weights[k]) for k in result.weights)


def test_a_tagger_trained_on_top_keeps_the_pretrained_part_frozen_and_carries_it(pretrained, tmp_path):
    folder, result = pretrained
    config = Config(corpus="toy", epochs=2, embedding_size=8, char_embedding_size=4,
                    char_hidden_size=4, hidden_size=8, progress=False, threads=1,
                    pretrained=str(folder), out=str(tmp_path / "model"))
    train(config, log=lambda m: None)
    model, vocab, _, _ = storage.load(config.out)
    assert vocab.vectors == result.words
    state = model.pretrained.state_dict()
    assert all(torch.equal(state[k], result.weights[k]) for k in result.weights)
    # The model folder alone is enough: the pretrained folder may go.
    for f in folder.iterdir():
        f.rename(tmp_path / f.name)
    try:
        assert storage.load(config.out)[0].pretrained is not None
    finally:
        for name in ("pretrained.json", "pretrained.safetensors"):
            (tmp_path / name).rename(folder / name)


def test_weight_averaging_averages_the_trained_weights_and_keeps_the_frozen_ones(pretrained, tmp_path):
    """The EMA skips frozen weights (their average is themselves): every saved weight must still be
    the average of every step's, recomputed by hand, and the pretrained part unchanged."""
    folder, result = pretrained
    steps = []

    def record(optimizer, args, kwargs):
        steps.append([p.detach().clone() for group in optimizer.param_groups for p in group["params"]])

    config = Config(corpus="toy", epochs=1, embedding_size=8, char_embedding_size=4,
                    char_hidden_size=4, hidden_size=8, progress=False, threads=1, ema_decay=0.75,
                    pretrained=str(folder), out=str(tmp_path / "model"))
    handle = register_optimizer_step_post_hook(record)
    try:
        train(config, log=lambda m: None)
    finally:
        handle.remove()
    assert len(steps) == 3  # the toy corpus's batches; epoch 1 is the best so far, and saved
    average = steps[0]
    for weights in steps[1:]:
        average = [0.75 * a + 0.25 * w for a, w in zip(average, weights)]
    model = storage.load(config.out)[0]
    saved = list(model.parameters())
    assert len(saved) == len(average)
    for got, expected in zip(saved, average):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    state = model.pretrained.state_dict()
    assert all(torch.equal(state[k], result.weights[k]) for k in result.weights)


def test_hand_trained_language_models_run_the_same_on_nn_lstm(pretrained):
    _, result = pretrained
    hand, torch_ = (Pretrained(*result.sizes, encoder=e) for e in ("hand", "torch"))
    for module in (hand, torch_):
        module.load_state_dict(result.weights)
    ids = torch.tensor([[2, 3, 4, 5], [6, 7, 0, 0]])
    lengths = torch.tensor([4, 2])
    torch.testing.assert_close(hand(ids, lengths), torch_(ids, lengths), rtol=1e-5, atol=1e-6)


def test_compounds_unknown_to_the_vectors_borrow_their_heads_vector():
    vocab = Vocab.build([[("a", "DT")]], vectors=["<pad>", "<unk>", "wage", "casualty"])
    assert vocab.vector_id("minimum-wage") == vocab.vector_id("Wage") == 2
    assert vocab.vector_id("property\\/casualty") == 3
    assert vocab.vector_id("cost-cutting") == vocab.vector_id("zzz") == 1


def test_cli_errors_are_one_line(run_cli, one_line_error, tmp_path):
    one_line_error(run_cli("tagger.pretrain", "--text", str(tmp_path / "nope.txt"),
                           "--out", str(tmp_path / "p")), "nope.txt")
    one_line_error(run_cli("tagger.pretrain", "--size", "0"), "--size")
    one_line_error(run_cli("tagger.pretrain", "--jobs", "0"), "--jobs must be at least 1, got 0")
    one_line_error(run_cli("tagger.train", "--corpus", "toy", "--pretrained", str(tmp_path),
                           "--out", str(tmp_path / "m")), "python -m tagger.pretrain")
    assert not (tmp_path / "p").exists()
