"""Tests for tagger.serve: the HTTP API in process (FastAPI's TestClient), checked against the
PosTagger it serves (text split into sentences as tag_text splits it, spans and all); any JSON payload gets a documented error or one tag per token (hypothesis);
concurrent clients share forward passes; a real server finishes its requests on SIGTERM; and the
web page, in a real headless Chromium, shows the tags of what is typed into it and, under them,
what the LSTM computed inside (POST /explain, checked against PosTagger.explain)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TINY_RUN
from tagger.config import Config
from tagger.serve import create_app, wait_until_serving
from tagger.tag import PosTagger
from tagger.text import tokenize
from tagger.tagsets import universal_map
from tagger.train import train

TINY = dict(TINY_RUN, epochs=10)
ERROR_STATUSES = {400, 413, 422, 503}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("serve") / "model"
    train(Config(**TINY, out=str(out)), log=lambda message: None)
    return str(out)


@pytest.fixture(scope="module")
def tagger(model_dir):
    return PosTagger.load(model_dir, "cpu")


@pytest.fixture(scope="module")
def client(tagger, model_dir):
    with TestClient(create_app(tagger, [model_dir], max_body=20_000, max_tokens=500)) as c:
        yield c


TEXT = "Mr. Smith went to Washington. He didn't like it there.\n\nHe said “hello” (twice)…"


def test_text_is_read_as_the_command_line_reads_it_and_tagged_as_the_tagger_does(client, tagger):
    got = client.post("/tag", json={"text": TEXT})
    assert got.status_code == 200, got.text
    sentences = got.json()["sentences"]
    expected = tagger.tag_text(TEXT)
    assert len(sentences) == 3
    assert [s["tokens"] for s in sentences] == [[w for w, _, _ in s] for s in expected]
    assert [s["tags"] for s in sentences] == [[t for _, t, _ in s] for s in expected]
    assert [s["spans"] for s in sentences] == [[list(span) for _, _, span in s] for s in expected]
    assert sentences[2]["tokens"][2] == "“"  # the text's own characters
    first = sentences[0]["spans"]
    scored = tagger.predict_scored([tokenize(TEXT[first[0][0]:first[-1][1]])])
    assert sentences[0]["probabilities"] == pytest.approx(scored[0][1], abs=1e-4)
    assert all(0 < p <= 1 for s in sentences for p in s["probabilities"])


def test_text_by_lines_and_in_universal_tags(client, tagger):
    lines = ["The dog ate the apple.", "", "Mr. Smith left. He came back."]
    got = client.post("/tag", json={"text": "\n".join(lines), "split": "lines",
                                    "tagset": "universal"}).json()["sentences"]
    expected = [tokenize(line) for line in lines if line]
    assert [len(s["tokens"]) for s in got] == [len(s) for s in expected]
    assert [s["tags"] for s in got] == [[universal_map()[t] for t in tags]
                                        for tags in tagger.predict(expected)]


def test_sentences_are_tagged_as_given(client, tagger):
    sentences = [["New York-based", "dogs", "bark"], ["<b>", "&amp;", "日本語", "🙂"], []]
    got = client.post("/tag", json={"sentences": sentences}).json()["sentences"]
    assert [s["tokens"] for s in got] == sentences
    assert [s["tags"] for s in got] == tagger.predict(sentences)


def test_explain_gives_the_internals_tagger_explain_gives(client, tagger):
    text = "The dog ate the apple. It was red."
    got = client.post("/explain", json={"text": text})
    assert got.status_code == 200, got.text
    sentences = got.json()["sentences"]
    expected = tagger.tag_text(text)
    assert [s["tokens"] for s in sentences] == [[w for w, _, _ in s] for s in expected]
    assert [s["spans"] for s in sentences] == [[list(span) for _, _, span in s] for s in expected]
    for found, tagged in zip(sentences, expected):
        explanation = tagger.explain([w for w, _, _ in tagged])
        assert found["tags"] == [t for _, t, _ in tagged] == explanation.tags
        assert found["top"][0][0]["tag"] == explanation.top[0][0][0]
        for name in "ifgoch":
            assert torch.allclose(torch.tensor(found["layers"][0][name]),
                                  explanation.layers[0][name], atol=1e-3)
    tokens = client.post("/explain", json={"sentences": [["The", "dog"], []]})
    assert tokens.status_code == 200 and len(tokens.json()["sentences"]) == 1


@pytest.mark.parametrize("body, status, words", [
    ({"text": "a " * 201}, 413, "limit of 200 for /explain"),
    ({"text": "The dog", "tagset": "universal"}, 422, "own tags"),
    ({"text": ""}, 422, "nothing to tag"),
    ({"txt": "x"}, 422, "unknown field")])
def test_explain_refuses_what_it_cannot_explain_in_one_line(client, body, status, words):
    got = client.post("/explain", json=body)
    assert got.status_code == status and words in got.json()["error"]


def test_other_paths_and_methods_get_json_errors_too(client):
    assert client.get("/tag").json() == {"error": "Method Not Allowed"}
    assert client.get("/nope").status_code == 404 and "error" in client.get("/nope").json()
    assert client.get("/static/../serve.py").status_code == 404


def test_health_model_page_and_openapi(client, model_dir, tagger):
    assert client.get("/health").json() == {"status": "ok"}
    model = client.get("/model").json()
    assert model["models"] == [model_dir] and model["tags"] == list(tagger.vocab.tags)
    assert model["config"]["hidden_size"] == 16
    assert model["test"][0]["accuracy"] == json.load(open(f"{model_dir}/metrics.json"))["test"][
        "accuracy"]
    page = client.get("/")
    assert page.status_code == 200 and 'id="text"' in page.text
    assert client.get("/static/app.js").status_code == 200
    assert "/tag" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("body, headers, status, words", [
    (b"{not json", {"content-type": "application/json"}, 400, "not valid JSON"),
    (b"\xff\xfe{}", {"content-type": "application/json"}, 400, ""),
    (b"[1, 2]", {"content-type": "application/json"}, 422, "send"),
    (b'"a string"', {"content-type": "application/json"}, 422, "send"),
    (b"{}", {"content-type": "application/json"}, 422, "exactly one"),
    (b'{"text": "a", "sentences": [["a"]]}', {"content-type": "application/json"}, 422, "exactly one"),
    (b'{"text": 5}', {"content-type": "application/json"}, 422, "text"),
    (b'{"text": null}', {"content-type": "application/json"}, 422, "exactly one"),
    (b'{"sentences": "The dog"}', {"content-type": "application/json"}, 422, "sentences"),
    (b'{"sentences": [["a", 1]]}', {"content-type": "application/json"}, 422, "sentences"),
    (b'{"sentences": [["a", ""]]}', {"content-type": "application/json"}, 422, "empty string"),
    (b'{"text": "a", "extra": 1}', {"content-type": "application/json"}, 422, "extra"),
    (b'{"text": "a", "split": "words"}', {"content-type": "application/json"}, 422, "split"),
    (b'{"text": "a", "tagset": "brown"}', {"content-type": "application/json"}, 422, "tagset"),
    (b'{"text": "   \\n\\t "}', {"content-type": "application/json"}, 422, "nothing to tag"),
    (b'{"text": ""}', {"content-type": "application/json"}, 422, "nothing to tag"),
    (json.dumps({"text": "dog " * 501}).encode(), {"content-type": "application/json"}, 413,
     "501 tokens"),
    (json.dumps({"text": "x" * 30_000}).encode(), {"content-type": "application/json"}, 413,
     "20,000 bytes"),
    (b"[" * 10_000, {"content-type": "application/json"}, 400, ""),
    (b"text=dog", {"content-type": "application/x-www-form-urlencoded"}, 400, "not valid JSON"),
    (b'{"text": "a"}', {"content-type": "application/json", "content-length": "1e9"}, 400,
     "Content-Length"),
])
def test_bad_requests_get_a_json_error_with_their_status(client, body, headers, status, words):
    got = client.post("/tag", content=body, headers=headers)
    assert got.status_code == status, got.text
    assert words in got.json()["error"]
    assert client.get("/health").status_code == 200  # and the server goes on


def test_a_body_over_the_limit_is_refused_as_it_arrives_without_a_declared_length(client):
    def chunks():  # sent chunked: no content-length to refuse it by
        for _ in range(30):
            yield b" " * 1_000

    got = client.post("/tag", content=chunks(), headers={"content-type": "application/json"})
    assert got.status_code == 413 and "20,000 bytes" in got.json()["error"]


def test_lone_surrogates_and_any_unicode_are_tagged(client):
    got = client.post("/tag", content=b'{"sentences": [["\\ud800x", "\\u0000", "a\\u200bb"]], '
                                      b'"text": null}', headers={"content-type": "application/json"})
    assert got.status_code == 200, got.text
    assert got.json()["sentences"][0]["tokens"] == ["\ufffdx", "\x00", "a\u200bb"]


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                           | st.text(max_size=30),
                           lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.text(max_size=10), children, max_size=3),
                           max_leaves=20)
payloads = (json_values
            | st.fixed_dictionaries({"text": st.text(max_size=200)})
            | st.fixed_dictionaries({"sentences": st.lists(st.lists(st.text(max_size=12),
                                                                    max_size=12), max_size=5)}))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=payloads)
def test_any_json_gets_a_documented_error_or_one_tag_per_token(client, payload):
    got = client.post("/tag", json=payload)
    if got.status_code == 200:
        for s in got.json()["sentences"]:
            assert len(s["tags"]) == len(s["tokens"]) == len(s["probabilities"])
            if "spans" in s:
                assert [payload["text"][a:b] for a, b in s["spans"]] == s["tokens"]
        if isinstance(payload, dict) and "sentences" in payload:
            assert [len(s["tokens"]) for s in got.json()["sentences"]] == \
                [len(s) for s in payload["sentences"]]
    else:
        assert got.status_code in ERROR_STATUSES, got.text
        assert isinstance(got.json()["error"], str)


def test_concurrent_requests_share_forward_passes_and_each_gets_its_own_tags(tagger, model_dir):
    app = create_app(tagger, [model_dir], max_wait=0.05)
    sentences = [["The", "dog", "ate", f"apple{k}"] if k % 2 else ["A", "cat", "."]
                 for k in range(24)]
    with TestClient(app) as c:
        results = [None] * len(sentences)

        def ask(k):
            results[k] = c.post("/tag", json={"sentences": [sentences[k]]}).json()

        threads = [threading.Thread(target=ask, args=(k,)) for k in range(len(sentences))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert app.state.batcher.forward_passes < len(sentences) / 2
    expected = tagger.predict(sentences)
    assert [r["sentences"][0]["tags"] for r in results] == expected


def test_too_many_queued_tokens_get_503_not_unbounded_memory(tagger, model_dir):
    app = create_app(tagger, [model_dir], max_wait=0.2, max_queued_tokens=10)
    with TestClient(app) as c:
        statuses = []

        def ask():
            statuses.append(c.post("/tag", json={"sentences": [["a"] * 4]}).status_code)

        threads = [threading.Thread(target=ask) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(set(statuses)) == [200, 503]
        assert c.post("/tag", json={"text": "ok"}).status_code == 200  # it recovers


# --- a real server ---------------------------------------------------------------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(model_dir):
    """`python -m tagger.serve` as a user starts it; yields its base URL and process."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "tagger.serve", "--model", model_dir,
                                "--port", str(port), "--threads", "1", "--max-wait-ms", "300"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(url, process)
    yield url, process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_bad_flags_are_one_line_errors(run_cli, one_line_error):
    one_line_error(run_cli("tagger.serve", "--port", "-1"), "--port must be at least 0")
    one_line_error(run_cli("tagger.serve", "--model", "/no/such/model"), "/no/such/model")


def test_without_the_serve_extra_it_says_which_to_install(one_line_error):
    code = ("import sys; sys.modules['fastapi'] = None  # as if not installed\n"
            "from tagger.serve import main; main(['--model', 'models/latest'])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    one_line_error(result, "pip install 'tagger[serve]'", "fastapi")


@pytest.mark.skipif(not shutil.which("chromium") and not shutil.which("chromium-browser"),
                    reason="no Chromium installed (apt-get install chromium); .ci/run installs it")
def test_the_page_shows_the_tags_of_typed_text_in_a_real_browser(server, tagger, tmp_path):
    from playwright.sync_api import sync_playwright

    url, _ = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium")
                                    or shutil.which("chromium-browser"))
        page = browser.new_page()
        page.goto(url + "/")
        text = "Mr. Smith went to Washington. He didn't like it there.\n\nA cat <b>&amp;"
        page.fill("#text", text)
        page.click("#tag")
        page.wait_for_selector("#result .token")
        sentences = page.eval_on_selector_all(
            "#result .sentence", "rows => rows.map(r => [...r.querySelectorAll('.token')].map("
                                 "t => [t.querySelector('.word').textContent, t.dataset.tag, "
                                 "t.getAttribute('title'), t.dataset.span]))")
        expected = tagger.tag_text(text)
        assert [[w for w, _, _, _ in s] for s in sentences] == [[w for w, _, _ in s]
                                                                for s in expected]
        assert [[t for _, t, _, _ in s] for s in sentences] == [[t for _, t, _ in s]
                                                                for s in expected]
        assert [[span for _, _, _, span in s] for s in sentences] == [
            [f"{a}-{b}" for _, _, (a, b) in s] for s in expected]
        title = sentences[0][0][2]
        assert "probability" in title and "characters 0–3" in title  # the span, on hover
        page.select_option("#tagset", "universal")  # tags again, in universal tags
        page.wait_for_function("document.querySelector('#result .token').dataset.tag === 'NOUN'"
                               " || document.querySelector('#result .token').dataset.tag === "
                               f"'{universal_map()[expected[0][0][1]]}'")
        first = page.eval_on_selector("#result .token", "t => t.dataset.tag")
        assert first == universal_map()[expected[0][0][1]]
        page.screenshot(path=str(tmp_path / "page.png"))
        page.fill("#text", "   ")
        page.click("#tag")
        page.wait_for_selector("#error:not([hidden])")
        assert "nothing to tag" in page.text_content("#error")
        assert page.locator("#model").text_content().endswith("model")  # the folder's name
        browser.close()


def _heatmaps(page):
    return page.eval_on_selector_all("#inside [data-name]", "maps => maps.map(m => "
                                     "[m.dataset.name, m.dataset.rows, m.dataset.cols])")


def _hover(page, name, x, y):
    """Hovers a heatmap's cell -> the tooltip's (token, where, value)."""
    page.hover(f"#inside [data-name='{name}'] canvas", position={"x": x, "y": y})
    page.wait_for_selector("#inside-tip:not([hidden])")
    token, where, value = page.eval_on_selector_all("#inside-tip > *",
                                                    "parts => parts.map(p => p.textContent)")
    assert value.startswith(f"{name} = ")
    return token, where, float(value.split("=")[1].replace("−", "-"))


def _check_heatmaps(page, words, layer):
    """One heatmap per internal, a row per token: the mean of the units per direction, then
    every unit; hovering a cell gives its token, direction and value."""
    H = layer["h"].shape[-1]
    assert _heatmaps(page) == [[n, "5", "1"] for n in "ifgoch"]
    assert page.eval_on_selector_all("[data-name='i'] .rows li",
                                     "rows => rows.map(r => r.textContent)") == words
    token, where, value = _hover(page, "f", 10, 8)  # first row, forward column
    assert token == "The" and where.startswith("forward")
    assert value == pytest.approx(layer["f"][0, 0].mean().item(), abs=1e-3)
    box = page.locator("[data-name='f'] canvas").bounding_box()
    token, where, value = _hover(page, "f", box["width"] - 5, 8)  # first row, backward column
    assert token == "The" and where.startswith("backward")
    assert value == pytest.approx(layer["f"][0, 1].mean().item(), abs=1e-3)
    page.check("#inside-units")  # every unit: H columns a direction
    page.wait_for_function(f"document.querySelector(\"[data-name='c']\").dataset.cols === '{H}'")
    assert _heatmaps(page) == [[n, "5", str(H)] for n in "ifgoch"]
    box = page.locator("[data-name='c'] canvas").bounding_box()
    unit_width = (box["width"] - 6) / (2 * H)  # both directions, 6 px apart
    token, where, value = _hover(page, "c", 2.5 * unit_width, 22 * 1.5)  # dog, unit 3, forward
    assert token == "dog" and where == f"forward · unit 3 of {H}"
    assert value == pytest.approx(layer["c"][1, 0, 2].item(), abs=1e-3)
    page.mouse.move(0, 0)


def _check_top_tags(page, words, explanation):
    """Each token's three most probable tags, with their probabilities (and bars)."""
    rows = page.eval_on_selector_all(
        "#top tbody tr", "rows => rows.map(r => [r.querySelector('th').textContent, "
                         "[...r.querySelectorAll('td')].map(c => [c.dataset.tag, "
                         "c.dataset.probability, !!c.querySelector('.bar')])])")
    assert [w for w, _ in rows] == words
    assert [[t for t, _, _ in cells] for _, cells in rows] == [
        [t for t, _ in top] for top in explanation.top]
    assert [cells[0][0] for _, cells in rows] == explanation.tags
    for (_, cells), top in zip(rows, explanation.top):
        for (_, shown, bar), (_, probability) in zip(cells, top):
            # 3 decimals of the 4 the server sends: at most 0.0005 + 0.00005 off
            assert bar and float(shown) == pytest.approx(probability, abs=5.5e-4)


def _check_norm_chart(page, explanation):
    """The cell state's norm along the sentence: a polyline per direction, a point a token, each
    point as high as its norm on one scale."""
    lines = dict(page.eval_on_selector_all(
        "#norm polyline", "lines => lines.map(l => [l.getAttribute('class'), "
                          "l.getAttribute('points').trim().split(/\\s+/)])"))
    assert sorted(lines) == ["backward", "forward"]
    assert [len(lines["forward"]), len(lines["backward"])] == [5, 5]
    norms = explanation.norms("c")[0]  # (T, D)
    ys = [float(point.split(",")[1]) for d in ("forward", "backward") for point in lines[d]]
    ns = [norms[t, d].item() for d in (0, 1) for t in range(5)]
    slope = (max(ys) - min(ys)) / (max(ns) - min(ns))
    assert all(y == pytest.approx(max(ys) - slope * (n - min(ns)), abs=1.5)
               for y, n in zip(ys, ns))  # higher up (smaller y) for a larger norm
    legend = page.text_content("#norm-legend")
    assert "forward" in legend and "backward" in legend


@pytest.mark.skipif(not shutil.which("chromium") and not shutil.which("chromium-browser"),
                    reason="no Chromium installed (apt-get install chromium); .ci/run installs it")
def test_the_page_shows_the_lstms_internals_in_a_real_browser(server, tagger, tmp_path):
    """Under the tags of "The dog ate the apple": the gates and states of tagger.explain as
    heatmaps, the cell state's norm, the three most probable tags; a screenshot of it all goes
    to $TAGGER_SCREENSHOTS/explain-page.png when that is set."""
    from playwright.sync_api import sync_playwright

    url, _ = server
    words = ["The", "dog", "ate", "the", "apple"]
    explanation = tagger.explain(words)
    shots = os.environ.get("TAGGER_SCREENSHOTS")
    shot = (Path(shots) if shots else tmp_path) / "explain-page.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium")
                                    or shutil.which("chromium-browser"))
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "/")
        page.fill("#text", " ".join(words))
        page.click("#tag")
        page.wait_for_selector("#inside [data-name='h']")
        assert page.text_content("#inside h2") == "Inside the LSTM"
        assert "forget gate" in page.text_content("#inside .explainer")
        _check_heatmaps(page, words, explanation.layers[0])
        _check_top_tags(page, words, explanation)
        _check_norm_chart(page, explanation)
        # Universal tags above: the panel stays, with the model's own tags, and says so.
        page.select_option("#tagset", "universal")
        page.wait_for_function("document.querySelector('#inside-note').textContent"
                               ".includes(\"model's own\")")
        assert len(_heatmaps(page)) == 6 and page.locator("#top tbody tr").count() == 5
        assert errors == []
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sigterm_finishes_the_requests_in_flight_then_exits(server):
    url, process = server
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"text": "The dog ate the apple"}).encode()
    request = (f"POST /tag HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    # The request is whole on the server's side before the signal (a client thread might not
    # even have connected on a busy machine), and held in the batcher for --max-wait-ms (300 ms)
    # when the signal comes.
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(request)
        time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    head, _, payload = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), response
    assert json.loads(payload)["sentences"][0]["tokens"] == ["The", "dog", "ate", "the", "apple"]
    # Then it ends as a process that SIGTERM ends: uvicorn raises the signal again once done.
    assert process.wait(timeout=30) == -signal.SIGTERM
