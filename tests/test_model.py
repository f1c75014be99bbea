"""Tests for tagger.model: the Tagger on the hand-made LSTM against the same Tagger on nn.LSTM,
output shape and normalisation, and independence from padding."""

import pytest
import torch

from conftest import TINY
from tagger.config import Config
from tagger.data import TOY_DIR, read_tagged
from tagger.model import FORM_CACHE_BYTES, FormCache, Tagger
from tagger.vocab import Vocab

SHAPES = [  # (bidirectional, num_layers)
    (True, 1), (False, 1), (True, 2), (False, 2),
]


@pytest.fixture(scope="module")
def toy():
    return read_tagged(TOY_DIR / "train.txt")


@pytest.fixture(scope="module")
def vocab(toy):
    return Vocab.build(toy)


def make(vocab, seed=0, **overrides):
    config = Config(**{**TINY, **overrides})
    torch.manual_seed(seed)
    return Tagger(config, len(vocab.words), len(vocab.chars), len(vocab.tags))


def toy_batch(vocab, sentences):
    """A batch of toy sentences of different lengths, with a word and a character never seen."""
    words = [[w for w, _ in s] for s in sentences] + [["Zyxt", "ümlaut", "dog"]]
    tags = [[t for _, t in s] for s in sentences] + [["NN", "NN", "NN"]]
    return vocab.batch(words, tags)


def log_probs_and_grads(model, batch):
    """Log-probabilities and the gradient of the NLL loss for every parameter, by name."""
    model.zero_grad()
    out = model(batch)
    loss = torch.nn.functional.nll_loss(out.flatten(0, 1), batch.tags.flatten())
    loss.backward()
    return out.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("bidirectional,num_layers", SHAPES)
def test_hand_and_torch_encoders_are_the_same_model(vocab, toy, bidirectional, num_layers):
    shape = dict(bidirectional=bidirectional, num_layers=num_layers)
    hand, ref = make(vocab, encoder="hand", **shape), make(vocab, encoder="torch", **shape)
    hand_state, ref_state = hand.state_dict(), ref.state_dict()
    assert hand_state.keys() == ref_state.keys()
    for name in ref_state:
        assert torch.equal(hand_state[name], ref_state[name]), name
    # Dropout is random, so the two are compared without it; gradients still flow in eval mode.
    hand.eval(), ref.eval()
    batch = toy_batch(vocab, toy[:7])
    out, grads = log_probs_and_grads(hand, batch)
    ref_out, ref_grads = log_probs_and_grads(ref, batch)
    torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-5)
    assert grads.keys() == ref_grads.keys()
    for name in ref_grads:
        assert ref_grads[name].abs().sum() > 0 or "embedding" in name, f"{name} got no gradient"
        torch.testing.assert_close(grads[name], ref_grads[name], rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("bidirectional,num_layers", SHAPES)
def test_the_rnn_encoder_is_the_same_model_on_nn_rnn(vocab, toy, bidirectional, num_layers):
    """--encoder rnn: every recurrent layer a hand-made RNN (tagger.rnn); the same network with
    nn.RNN's in their place, holding their weights, gives the same output and gradients."""
    mine = make(vocab, encoder="rnn", bidirectional=bidirectional, num_layers=num_layers)
    ref = make(vocab, encoder="rnn", bidirectional=bidirectional, num_layers=num_layers)
    for name in ("char_lstm", "lstm"):
        hand = getattr(ref, name)
        torch_rnn = torch.nn.RNN(hand.input_size, hand.hidden_size, hand.num_layers,
                                 batch_first=True, bidirectional=hand.bidirectional)
        torch_rnn.load_state_dict(hand.state_dict())
        setattr(ref, name, torch_rnn)
    mine.eval(), ref.eval()
    batch = toy_batch(vocab, toy[:7])
    out, grads = log_probs_and_grads(mine, batch)
    ref_out, ref_grads = log_probs_and_grads(ref, batch)
    torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-5)
    for name in ref_grads:
        torch.testing.assert_close(grads[name], ref_grads[name], rtol=1e-4, atol=1e-5, msg=name)


def test_a_different_seed_gives_different_weights(vocab):
    a, b = make(vocab, seed=0).state_dict(), make(vocab, seed=1).state_dict()
    assert not torch.equal(a["lstm.weight_hh_l0"], b["lstm.weight_hh_l0"])
    assert not torch.equal(a["head.weight"], b["head.weight"])


@pytest.mark.parametrize("encoder", ["hand", "torch", "rnn"])
def test_output_is_log_probabilities_of_every_tag_at_every_position(vocab, toy, encoder):
    model = make(vocab, encoder=encoder).eval()
    batch = toy_batch(vocab, toy[:5])
    with torch.no_grad():
        out = model(batch)
    B, T = batch.words.shape
    assert B == 6 and T == max(batch.lengths) and T > min(batch.lengths)
    assert out.shape == (B, T, len(vocab.tags)) and out.dtype == torch.float32
    assert torch.isfinite(out).all() and (out <= 0).all()
    torch.testing.assert_close(out.logsumexp(-1), torch.zeros(B, T), rtol=0, atol=1e-5)


def test_a_second_head_gives_its_own_log_probabilities_and_leaves_the_first_as_it_was(vocab, toy):
    batch = toy_batch(vocab, toy[:5])
    config = Config(**TINY)
    torch.manual_seed(0)
    model = Tagger(config, len(vocab.words), len(vocab.chars), len(vocab.tags),
                   num_aux_tags=7).eval()
    with torch.no_grad():
        out, aux = model(batch, aux=True)
        alone = model(batch)
    B, T = batch.words.shape
    assert aux.shape == (B, T, 7) and torch.equal(out, alone)
    torch.testing.assert_close(aux.logsumexp(-1), torch.zeros(B, T), rtol=0, atol=1e-5)
    # The same seed gives the same weights as a model without the second head, which comes last.
    without = {k: v for k, v in model.state_dict().items() if not k.startswith("aux_head.")}
    assert all(torch.equal(v, make(vocab).state_dict()[k]) for k, v in without.items())


@pytest.mark.parametrize("encoder", ["hand", "torch"])
@pytest.mark.parametrize("bidirectional,num_layers", SHAPES)
def test_padding_does_not_change_the_other_positions(vocab, encoder, bidirectional, num_layers):
    model = make(vocab, encoder=encoder, bidirectional=bidirectional, num_layers=num_layers).eval()
    short = ["The", "cat", "ate"]
    long = ["Everybody", "read", "that", "book", "about", "the", "dog", "."]
    with torch.no_grad():
        alone = model(vocab.batch([short]))[0]
        long_alone = model(vocab.batch([long]))[0]
        together = model(vocab.batch([long, short, ["a"]]))
    assert together.shape[1] == len(long)
    torch.testing.assert_close(together[1, :len(short)], alone, rtol=0, atol=1e-6)
    torch.testing.assert_close(together[0], long_alone, rtol=0, atol=1e-6)


@pytest.mark.parametrize("bidirectional,num_layers", SHAPES)
def test_configurations_train_a_step(vocab, toy, bidirectional, num_layers):
    """Every shape of network runs forward and backward in training mode and learns."""
    model = make(vocab, bidirectional=bidirectional, num_layers=num_layers, dropout=0.0).train()
    directions = 2 if bidirectional else 1
    assert model.head.in_features == directions * TINY["hidden_size"]
    assert model.lstm.num_layers == num_layers and model.lstm.bidirectional == bidirectional
    batch = toy_batch(vocab, toy[:8])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        loss = torch.nn.functional.nll_loss(model(batch).flatten(0, 1), batch.tags.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_dropout_is_active_only_in_training_mode(vocab, toy):
    model = make(vocab, dropout=0.5)
    batch = toy_batch(vocab, toy[:3])
    with torch.no_grad():
        model.eval()
        assert torch.equal(model(batch), model(batch))
        model.train()
        assert not torch.equal(model(batch), model(batch))


@pytest.mark.parametrize("encoder", ["hand", "torch", "rnn"])
@pytest.mark.parametrize("limit", [None, 4])
def test_a_form_cache_gives_what_each_batch_alone_gives(vocab, toy, encoder, limit):
    """Batches tagged one after another with the model's cache (the frequent forms computed at
    the start, or an empty cache of 4 rows: some forms cached, some new, some over its limit)
    give the log-probabilities each batch gives alone, and each cached row is what the model
    makes of its form alone: the hand-made LSTM's input products of the form's features, or
    nn.LSTM's tagger's character vector."""
    model = make(vocab, encoder=encoder).eval()
    sentences = [[w for w, _ in s] for s in toy] + [["Zyxt", "dog"], ["dog", "dog"]]
    cache = model.form_cache(vocab)
    assert cache.products == (encoder != "torch") and cache.rows == cache.fixed
    assert list(cache.fixed) == vocab.frequent_forms(len(vocab.forms))  # few: all of them
    if limit:
        cache = FormCache(cache.table.shape[1], cache.products, 4 * 4 * cache.table.shape[1])
    with torch.inference_mode():
        for start in range(0, len(sentences), 3):
            part = sentences[start : start + 3]
            cached = model(vocab.batch(part, known=cache.rows), cache=cache)
            assert torch.allclose(cached, model(vocab.batch(part)), atol=1e-6, rtol=0)
        assert "Zyxt" in cache.rows if not limit else len(cache.rows) == limit
        alone = vocab.batch([list(cache.rows)])
        rows = model.encode_chars(alone.chars, alone.char_lengths)[alone.forms[0]]
        if cache.products:
            features = model.form_features(alone.words[0], rows)
            rows = model.lstm.input_products(features).flatten(1)
        assert torch.allclose(cache.table[list(cache.rows.values())], rows, atol=1e-6)


@pytest.mark.parametrize("encoder", ["hand", "torch"])
def test_a_batch_of_cached_forms_only_spells_none(vocab, encoder):
    model = make(vocab, encoder=encoder).eval()
    cache = model.form_cache(vocab)
    with torch.inference_mode():
        batch = vocab.batch([["dog", "the", "dog"]], known=cache.rows)
        assert batch.chars.shape[0] == 0 and batch.new_forms == []
        cached = model(batch, cache=cache)
        assert torch.allclose(cached, model(vocab.batch([["dog", "the", "dog"]])), atol=1e-6)


def test_clearing_a_form_cache_keeps_the_frequent_forms_alone(vocab):
    model = make(vocab).eval()
    cache = model.form_cache(vocab)
    fixed = dict(cache.fixed)
    with torch.inference_mode():
        model(vocab.batch([["Zyxt", "dog"]], known=cache.rows), cache=cache)
    assert cache.rows.keys() == fixed.keys() | {"Zyxt"}
    cache.clear()
    assert cache.rows == fixed


def test_a_form_cache_is_bounded_in_bytes(vocab):
    model = make(vocab).eval()
    cache = model.form_cache(vocab)
    assert cache.limit * cache.table.shape[1] * 4 <= FORM_CACHE_BYTES
