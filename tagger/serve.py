"""Serve a tagger over HTTP: `python -m tagger.serve --model models/latest [--port 8000]`.

    POST /tag     {"text": "Mr. Smith went to Washington. He left."}   running text, split into
                  {"sentences": [["The", "dog"], ...]}                   sentences as the CLI splits
                  optional: "split": "lines", "tagset": "universal"     it; or tokens as given
               -> {"sentences": [{"tokens": [...], "tags": [...], "probabilities": [...],
                                  "spans": [[0, 3], ...]}, ...]}         (spans: for text)
    POST /explain the same body (at most EXPLAIN_TOKENS tokens; the model's own tags)
               -> {"sentences": [{"tokens", "tags", "spans", "top": [[{"tag", "probability"}]],
                                  "layers": [{"i", "f", "g", "o", "c", "h": (T, D, H) lists,
                                              "norm": {"c": (T, D)}}], ...}, ...]}
                  what the sentence LSTM computed inside (tagger.explain), for the page
    GET  /health  {"status": "ok"}
    GET  /model   the models' folders, config, tag set and test figures (metrics.json)
    GET  /        a web page: type text, see each word's tag (static files in tagger/static)
    GET  /openapi.json  the OpenAPI schema FastAPI makes from the code (/docs shows it, with
                  Swagger UI's files from their CDN)

The model is loaded once. Requests from concurrent clients are tagged together: the first waits
at most `--max-wait-ms` for others, and a batch closes early at TOKENS_PER_BATCH tokens, so many
small requests share one forward pass, which a single worker thread runs off the event loop.

Bad input never takes the server down: every error is a JSON `{"error": "..."}` with its status
(400 for JSON that does not parse, 413 for a body or a request over the limits, 422 for a request
of the wrong shape, 503 when more tokens wait than `--max-queued-tokens`, rather than letting
memory grow). SIGTERM (or Ctrl-C) stops taking connections, finishes the requests in flight,
then exits.
"""

import asyncio
import dataclasses
import json
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from tagger import sentences, tagsets
from tagger.errors import ArgumentParser, TaggerError, cli

try:  # the serve extra; without it, main() says how to install it in one line
    from fastapi import FastAPI, Request
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException
except ModuleNotFoundError as e:
    MISSING = e.name
else:
    MISSING = None

STATIC = Path(__file__).parent / "static"


ERRORS = [(400, "the body is not JSON"), (413, "the body or the request is over the limits"),
          (422, "the request is not of the documented shape"), (503, "too many tokens wait")]
SHAPE = 'send {"text": "..."} or {"sentences": [["token", ...], ...]}'
# Every internal of every token is sent (6 x 2 x 128 numbers with the default sizes), so
# /explain takes a few sentences, not a document.
EXPLAIN_TOKENS = 200
FIELDS = {"text", "sentences", "split", "tagset"}


class BadRequest(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


@dataclasses.dataclass
class Job:
    """What a /tag request asks for: sentences of tokens (as the text has them), the forms the
    model reads, the spans (for text), and the tag set to answer in."""
    tokens: list[list[str]]
    forms: list[list[str]]
    spans: list[list[tuple[int, int]]] | None
    tagset: str = "model"


def read_request(body: bytes) -> Job:
    """What a /tag request's body asks for, or BadRequest (400 or 422) saying what is wrong. Text
    is read as the command line reads it (tagger.sentences); lone surrogates, which JSON allows
    but UTF-8 cannot carry back, become U+FFFD."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as e:  # not UTF-8 is a ValueError too
        raise BadRequest(400, f"the body is not valid JSON ({e}); {SHAPE}") from None
    if not isinstance(payload, dict):
        raise BadRequest(422, f"the body is a JSON {type(payload).__name__}, not an object; {SHAPE}")
    unknown = set(payload) - FIELDS
    if unknown:
        raise BadRequest(422, f"unknown field {sorted(unknown)[0]!r}; {SHAPE}")
    given = [k for k in ("text", "sentences") if payload.get(k) is not None]
    if len(given) != 1:
        raise BadRequest(422, f'send exactly one of "text" and "sentences"; {SHAPE}')
    split = _choice(payload, "split", sentences.SPLITS)
    tagset = _choice(payload, "tagset", tagsets.TAGSETS)
    job = _read_text(payload["text"], split) if given == ["text"] else _read_tokens(payload)
    if not any(job.tokens):
        raise BadRequest(422, "nothing to tag: the text is empty")
    job.tagset = tagset
    return job


def _choice(payload, name, choices):
    value = payload.get(name)
    if value is None:
        return choices[0]
    if value not in choices:
        raise BadRequest(422, f'"{name}" must be one of {", ".join(map(json.dumps, choices))}')
    return value


def _read_text(text, split) -> Job:
    if not isinstance(text, str):
        raise BadRequest(422, f'"text" must be a string; {SHAPE}')
    found = sentences.read_text(sentences.without_surrogates(text), split)
    return Job([s.tokens for s in found], [s.forms for s in found], [s.spans for s in found])


def _read_tokens(payload) -> Job:
    given = payload["sentences"]
    if not isinstance(given, list) or not all(
            isinstance(s, list) and all(isinstance(t, str) for t in s) for s in given):
        raise BadRequest(422, f'"sentences" must be a list of lists of strings; {SHAPE}')
    given = [[sentences.without_surrogates(t) for t in s] for s in given]
    if any(not t for s in given for t in s):
        raise BadRequest(422, "a token is an empty string; every token needs a character")
    return Job(given, given, None)


class Overloaded(Exception):
    """More tokens wait to be tagged than the server takes on."""


class Batcher:
    """Collects the sentences of concurrent requests into batches for one forward pass each.

    `tag(sentences)` waits for its sentences' (tags, probabilities); a background task (`run`)
    takes the first waiting request, waits up to `max_wait` seconds for more, up to `max_tokens`
    tokens, and has the model tag them all in one call, in a single worker thread so the event
    loop keeps taking requests meanwhile."""

    def __init__(self, tagger, max_wait=0.005, max_tokens=4096, max_queued_tokens=100_000):
        self.tagger, self.max_wait, self.max_tokens = tagger, max_wait, max_tokens
        self.max_queued_tokens, self.queued_tokens = max_queued_tokens, 0
        self.queue = asyncio.Queue()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tagger")
        self.forward_passes = 0  # for tests and the bench: how many batches ran

    async def tag(self, sentences):
        tokens = sum(len(s) for s in sentences)
        if self.queued_tokens + tokens > self.max_queued_tokens:
            raise Overloaded
        self.queued_tokens += tokens
        done = asyncio.get_running_loop().create_future()
        await self.queue.put((sentences, tokens, done))
        return await done

    async def run(self):
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            tokens, deadline = batch[0][1], loop.time() + self.max_wait
            while tokens < self.max_tokens:
                try:
                    item = self.queue.get_nowait()
                except asyncio.QueueEmpty:
                    # Polled, not awaited with a timeout: a get() cancelled by its timeout just
                    # as a request arrives could drop that request.
                    if loop.time() >= deadline:
                        break
                    await asyncio.sleep(min(0.001, deadline - loop.time()))
                    continue
                batch.append(item)
                tokens += item[1]
            sentences = [s for item in batch for s in item[0]]
            try:
                scored = await loop.run_in_executor(self.executor, self.tagger.predict_scored,
                                                    sentences)
                self.forward_passes += 1
            except Exception as e:  # a bug: every waiting request gets it, the loop goes on
                scored, error = None, e
            start = 0
            for request, n, done in batch:
                self.queued_tokens -= n
                if not done.cancelled():  # its client went away
                    if scored is None:
                        done.set_exception(error)
                    else:
                        done.set_result(scored[start : start + len(request)])
                start += len(request)


def create_app(tagger, folders, max_body=1_000_000, max_tokens=10_000, max_wait=0.005,
               max_queued_tokens=100_000):
    """The ASGI application around a loaded `PosTagger` (`folders`: where its models came from)."""
    batcher = Batcher(tagger, max_wait, max_queued_tokens=max_queued_tokens)

    @asynccontextmanager
    async def lifespan(app):
        task = asyncio.create_task(batcher.run())
        yield
        task.cancel()
        batcher.executor.shutdown(wait=True)

    app = FastAPI(title="tagger", summary=__doc__.split("\n")[0], lifespan=lifespan)
    app.state.batcher, app.state.tagger, app.state.folders = batcher, tagger, folders
    app.state.max_tokens = max_tokens
    app.add_exception_handler(HTTPException, http_error)
    app.add_middleware(LimitBody, max_body=max_body)
    request_schema, response_model = _schemas()
    # The body is read and checked by read_request rather than by FastAPI, which only documents
    # it: FastAPI's parsing and checking took more of the server's time than tagging.
    body = {"required": True, "content": {"application/json": {"schema": request_schema}}}
    app.add_api_route("/tag", tag, methods=["POST"], response_model=response_model,
                      openapi_extra={"requestBody": body}, responses={
                          status: {"description": meaning, "content": {"application/json": {
                              "example": {"error": "a one-line message"}}}}
                          for status, meaning in ERRORS})
    app.add_api_route("/explain", explain, methods=["POST"], openapi_extra={"requestBody": body},
                      responses={status: {"description": meaning} for status, meaning in ERRORS})
    app.add_api_route("/health", health, methods=["GET"])
    app.add_api_route("/model", model, methods=["GET"])
    app.add_api_route("/", page, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _schemas():
    """The JSON schema of a /tag request and the model of its answer, for the OpenAPI document."""
    from pydantic import BaseModel, ConfigDict, Field

    class TagRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        text: str | None = Field(None, description="running text, split into sentences and "
                                                   "tokenized as the command line does")
        sentences: list[list[str]] | None = Field(None, description="sentences of tokens, "
                                                                     "tagged as given")
        split: str = Field("sentences", description='"sentences", or "lines": one sentence a '
                                                    "line of text")
        tagset: str = Field("model", description='"model": its own tags; "universal": NLTK\'s')

    class TaggedSentence(BaseModel):
        tokens: list[str]
        tags: list[str]
        probabilities: list[float]
        spans: list[tuple[int, int]] | None = Field(None, description="[start, end) of each "
                                                                      "token in the text")

    class TagResponse(BaseModel):
        sentences: list[TaggedSentence]

    return TagRequest.model_json_schema(), TagResponse


def error(status, message):
    return JSONResponse({"error": message}, status_code=status)


async def http_error(request, e):
    return error(e.status_code, str(e.detail))


class LimitBody:
    """ASGI middleware: a body whose declared size is over the limit is refused unread; one that
    grows over it as it arrives, as soon as it does (HTTPException -> 413, by http_error)."""

    def __init__(self, app, max_body):
        self.app, self.max_body = app, max_body
        self.too_large = f"the body is over {max_body:,} bytes; send less text per request"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and not declared.isdigit():
            return await error(400, "the Content-Length header is not a number")(
                scope, receive, send)
        if declared is not None and int(declared) > self.max_body:
            return await error(413, self.too_large)(scope, receive, send)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise HTTPException(413, self.too_large)
            return message

        await self.app(scope, counted, send)


async def tag(request: "Request"):
    """Tag running text (split into sentences as the command line splits it) or sentences of
    tokens."""
    state = request.app.state
    try:
        job = read_request(await request.body())
    except BadRequest as e:
        return error(e.status, str(e))
    count = sum(len(s) for s in job.tokens)
    if count > state.max_tokens:
        return error(413, f"{count:,} tokens is over the limit of {state.max_tokens:,} per "
                          "request; split the text into several requests")
    try:
        scored = await state.batcher.tag(job.forms)
        tags = [t for t, _ in scored]
        if job.tagset == "universal":  # NLTK's mapping: imported once, off the event loop
            await asyncio.get_running_loop().run_in_executor(None, tagsets.universal_map)
            tags = [tagsets.to_universal(t, state.tagger.vocab.tags) for t in tags]
    except Overloaded:
        return error(503, "the server is busy; retry in a moment")
    except TaggerError as e:  # universal tags asked of a model without Penn tags, or no NLTK data
        return error(422, str(e))
    # A response, not a dict: FastAPI would validate the dict against TagResponse again, which
    # took more time than tagging does (TagResponse still documents it).
    return JSONResponse({"sentences": [
        {"tokens": tokens, "tags": t, "probabilities": [round(p, 4) for p in probabilities],
         **({"spans": job.spans[k]} if job.spans is not None else {})}
        for k, (tokens, t, (_, probabilities)) in enumerate(zip(job.tokens, tags, scored))]})


async def explain(request: "Request"):
    """What the sentence LSTM computed inside for each sentence: its gates and cell states per
    token and direction, the tags, and each token's three most probable tags (tagger.explain)."""
    state = request.app.state
    try:
        job = read_request(await request.body())
    except BadRequest as e:
        return error(e.status, str(e))
    if job.tagset != "model":
        return error(422, '/explain gives the model\'s own tags; leave "tagset" out')
    count = sum(len(s) for s in job.tokens)
    if count > EXPLAIN_TOKENS:
        return error(413, f"{count:,} tokens is over the limit of {EXPLAIN_TOKENS} for /explain; "
                          "send a sentence or a few")
    # In the batcher's one worker thread, as tagging is: the model is never run by two at once.
    explanations = await asyncio.get_running_loop().run_in_executor(
        state.batcher.executor, state.tagger.explain_sents, [s for s in job.forms if s])
    found = iter(explanations)
    return JSONResponse({"sentences": [
        {**next(found).to_dict(), "tokens": tokens,
         **({"spans": job.spans[k]} if job.spans is not None else {})}
        for k, tokens in enumerate(job.tokens) if tokens]})


async def health():
    return {"status": "ok"}


async def model(request: "Request"):
    """The models' folders, the first one's config and tag set, and their test figures."""
    state = request.app.state
    metrics = []
    for folder in state.folders:
        try:
            saved = json.loads((Path(folder) / "metrics.json").read_text())
        except (OSError, ValueError):
            saved = {}
        test = saved.get("test") or {}
        metrics.append({k: test.get(k) for k in ("accuracy", "unknown_accuracy", "tokens")})
    return {"models": [str(f) for f in state.folders],
            "config": dataclasses.asdict(state.tagger.config),
            "tags": list(state.tagger.vocab.tags), "test": metrics}


async def page():
    return FileResponse(STATIC / "index.html")


def wait_until_serving(url, process, seconds=60):
    """Wait until a server started as `process` (a subprocess.Popen with stderr piped) answers
    `url`/health; RuntimeError, with what the server printed, if it ends or stays silent."""
    import urllib.request

    end = time.monotonic() + seconds
    while time.monotonic() < end and process.poll() is None:
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start: " + process.communicate()[1])


@cli
def main(argv=None):
    parser = ArgumentParser(prog="python -m tagger.serve", description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append",
                        help="model folder (default: models/latest); give it again for an "
                             "ensemble, as with python -m tagger.tag")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1; 0.0.0.0 for every one)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (default: one core fewer than the machine has, at "
                             "least 1: the other runs the event loop)")
    parser.add_argument("--max-body", type=int, default=1_000_000,
                        help="largest request body in bytes (default: 1,000,000; larger: 413)")
    parser.add_argument("--max-tokens", type=int, default=10_000,
                        help="most tokens in one request (default: 10,000; more: 413)")
    parser.add_argument("--max-wait-ms", type=float, default=5.0,
                        help="how long a request waits for others to share its forward pass "
                             "(default: 5)")
    parser.add_argument("--max-queued-tokens", type=int, default=100_000,
                        help="tokens waiting to be tagged beyond which requests get 503 "
                             "(default: 100,000)")
    args = parser.parse_args(argv)
    parser.require_at_least(args, port=0, threads=0, max_body=1, max_tokens=1, max_wait_ms=0,
                            max_queued_tokens=1)
    if MISSING is not None:
        raise TaggerError(f"python -m tagger.serve needs the serve extra ({MISSING} is not "
                          "installed): pip install 'tagger[serve]'")
    import torch
    import uvicorn

    from tagger.tag import PosTagger, _cores

    # The event loop parses and answers requests while the model tags, so it keeps a core of its
    # own: on 2 cores, 1 torch thread served 821 requests/s against 711 with 2 (64 clients, one
    # pair of runs of scripts/bench_serve.py; later runs spread over 567-821).
    torch.set_num_threads(args.threads or max(1, _cores() - 1))
    folders = args.model or ["models/latest"]
    start = time.perf_counter()
    tagger = PosTagger.load(folders, args.device)
    app = create_app(tagger, folders, args.max_body, args.max_tokens, args.max_wait_ms / 1000,
                     args.max_queued_tokens)
    print(f"model loaded in {time.perf_counter() - start:.1f} s; serving on "
          f"http://{args.host}:{args.port}", flush=True)
    # uvicorn: on SIGTERM or Ctrl-C it stops accepting, lets the requests in flight finish, exits.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
