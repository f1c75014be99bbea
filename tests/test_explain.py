"""Tests for tagger.explain: what PosTagger.explain reads from the forward pass equals the LSTM's
equations recomputed from the model's weights (its own, or nn.LSTM's read through a hand-made
LSTM), agrees with what tagging gives, and leaves tagging as it was."""

import json

import pytest
import torch

from conftest import TINY_RUN, lstm_equations
from tagger.config import Config
from tagger.explain import explain
from tagger.tag import PosTagger
from tagger.train import train

SENTENCES = [["The", "dog", "ate", "the", "apple", "."], ["Everybody", "read", "that", "book"]]


@pytest.fixture(scope="module", params=["hand", "torch"])
def tagger(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("explain") / request.param
    train(Config(**TINY_RUN, epochs=2, encoder=request.param, out=str(out)), log=lambda m: None)
    return PosTagger.load(str(out), "cpu")


def lstm_inputs(tagger, sentences):
    """What the sentence LSTM reads at each token, made from the model's parts. -> (B, T, I)"""
    model = tagger.model
    batch = tagger.vocab.batch(sentences)
    with torch.no_grad():
        forms = model.encode_chars(batch.chars, batch.char_lengths)  # (U, 2C)
        return model.form_features(batch.words, forms[batch.forms])


def test_internals_are_the_lstm_equations_on_the_models_weights(tagger):
    explanations = tagger.explain_sents(SENTENCES)
    weights = {k: v.double() for k, v in tagger.model.lstm.state_dict().items()}
    expected = lstm_equations(weights, lstm_inputs(tagger, SENTENCES).double(),
                              [len(s) for s in SENTENCES], 1, True)[0]
    H = tagger.model.lstm.hidden_size
    for b, (sentence, explanation) in enumerate(zip(SENTENCES, explanations)):
        layer = explanation.layers[0]
        assert set(layer) == set("ifgoch")
        for name in "ifgoch":
            assert layer[name].shape == (len(sentence), 2, H)
            want = expected[name][b, : len(sentence)].float().unflatten(-1, (2, H))
            assert torch.allclose(layer[name], want, atol=1e-5), name
        assert torch.allclose(explanation.norms()[0], layer["c"].norm(dim=-1))


def test_tags_and_top_tags_are_those_tagging_gives(tagger):
    explanation = tagger.explain(SENTENCES[0])
    tags, probabilities = tagger.predict_scored([SENTENCES[0]])[0]
    assert explanation.tokens == SENTENCES[0] and explanation.tags == tags
    proba = tagger.predict_proba([SENTENCES[0]])[0]  # (T, num_tags)
    for t, top in enumerate(explanation.top):
        assert len(top) == 3 and [p for _, p in top] == sorted((p for _, p in top), reverse=True)
        assert top[0] == (tags[t], pytest.approx(probabilities[t], abs=1e-5))
        expected = proba[t].topk(3)
        assert [tag for tag, _ in top] == [tagger.vocab.tags[i] for i in expected.indices]
        assert [p for _, p in top] == pytest.approx(expected.values.tolist(), abs=1e-5)


def test_explaining_leaves_tagging_and_the_model_as_they_were(tagger):
    before = tagger.predict_proba(SENTENCES)
    lstm = tagger.model.lstm
    tagger.explain_sents(SENTENCES)
    assert tagger.model.lstm is lstm and getattr(lstm, "internals", None) is None
    after = tagger.predict_proba(SENTENCES)
    assert all(torch.equal(a, b) for a, b in zip(before, after))


def test_to_dict_is_json_with_every_internal_rounded(tagger):
    explanation = tagger.explain(SENTENCES[1])
    found = json.loads(json.dumps(explanation.to_dict()))
    H = tagger.model.lstm.hidden_size
    assert found["tags"] == explanation.tags and found["directions"] == ["forward", "backward"]
    assert found["encoder"] == tagger.config.encoder
    layer = found["layers"][0]
    assert set(layer) == set("ifgoch") | {"norm"}
    assert torch.tensor(layer["f"]).shape == (4, 2, H)
    assert torch.allclose(torch.tensor(layer["norm"]["c"]), explanation.norms()[0], atol=1e-3)
    assert found["top"][0][0] == {"tag": explanation.top[0][0][0],
                                  "probability": round(explanation.top[0][0][1], 4)}


def test_empty_sentences_are_refused(tagger):
    with pytest.raises(ValueError, match="at least one token"):
        explain(tagger.model, tagger.vocab, [[]])


def test_a_plain_rnn_shows_its_hidden_states_as_nn_rnn_computes_them(tmp_path):
    train(Config(**TINY_RUN, epochs=1, encoder="rnn", out=str(tmp_path / "rnn")),
          log=lambda m: None)
    tagger = PosTagger.load(str(tmp_path / "rnn"), "cpu")
    explanation = tagger.explain(SENTENCES[0])
    hand = tagger.model.lstm
    reference = torch.nn.RNN(hand.input_size, hand.hidden_size, batch_first=True,
                             bidirectional=True)
    reference.load_state_dict(hand.state_dict())
    with torch.no_grad():
        expected, _ = reference(lstm_inputs(tagger, SENTENCES[:1]))  # (1, T, 2H)
    layer = explanation.layers[0]
    assert explanation.encoder == "rnn" and set(layer) == {"h"}
    assert torch.allclose(layer["h"], expected[0].unflatten(-1, (2, hand.hidden_size)), atol=1e-5)
    assert list(explanation.to_dict()["layers"][0]["norm"]) == ["h"]
