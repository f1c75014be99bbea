"""Tests for tagger.serve: the HTTP API in process (FastAPI's TestClient), checked against the
PosTagger it serves (text split into sentences as tag_text splits it, spans and all); any JSON payload gets a documented error or one tag per token (hypothesis);
concurrent clients share forward passes; a real server finishes its requests on SIGTERM; and the
web page, in a real headless Chromium, shows the tags of what is typed into it."""

import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
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
