#!/usr/bin/env python
"""The HTTP server under load: N concurrent clients, each sending one sentence a request.

    python scripts/bench_serve.py --model models/latest [--clients 1 8 64] [--seconds 10]

Starts `python -m tagger.serve` (and stops it at the end), then for each N runs N clients on
loopback for --seconds, each posting `{"sentences": [one treebank test sentence]}` again and again,
and prints requests/s, tokens/s, latency percentiles (p50/p95/p99) and errors (any answer but
200 with one tag per token, or none). For comparison it tags the same sentences, one a line, with
`python -m tagger.tag --tokenized --timing` and prints the command line's tokens/s and each N's
share of it. The clients run in this process (asyncio, plain HTTP/1.1 on kept-alive connections)
on the same machine: on a small machine they take CPU from the server, as real clients would.
"""

import asyncio
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_busy import cpu_name

from tagger import data
from tagger.config import Config
from tagger.errors import ArgumentParser, cli
from tagger.serve import wait_until_serving

TIMING = re.compile(r"tagged ([\d,]+) tokens in ([\d.]+) s, ([\d,]+) tokens/s")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def post(reader, writer, host, body):
    """One POST /tag on a kept-alive connection: (status, response body). A plain HTTP/1.1
    exchange, not an HTTP library's: httpx with 64 connections took more CPU per request than
    the server does, and the clients share the machine with it."""
    writer.write(b"POST /tag HTTP/1.1\r\nHost: " + host + b"\r\nContent-Type: application/json"
                 b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    return status, await reader.readexactly(length)


async def load(port, sentences, clients, seconds):
    """(counts, sorted latencies in s, elapsed s) of `clients` clients posting for `seconds`."""
    latencies, counts = [], {"requests": 0, "tokens": 0, "errors": 0}
    bodies = [json.dumps({"sentences": [s]}).encode() for s in sentences]
    host = f"127.0.0.1:{port}".encode()
    end = time.perf_counter() + seconds

    async def one_client(k):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = k
        while time.perf_counter() < end:
            start = time.perf_counter()
            try:
                status, answer = await post(reader, writer, host, bodies[n % len(bodies)])
                ok = status == 200 and len(json.loads(answer)["sentences"][0]["tags"]) == \
                    len(sentences[n % len(sentences)])
            except (OSError, ValueError, asyncio.IncompleteReadError):
                ok = False
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            latencies.append(time.perf_counter() - start)
            counts["requests"] += 1
            counts["tokens"] += len(sentences[n % len(sentences)]) if ok else 0
            counts["errors"] += not ok
            n += clients
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(one_client(k) for k in range(clients)))
    return counts, sorted(latencies), time.perf_counter() - start


def percentile(values, p):
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


@cli
def main(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="models/latest", help="model folder to serve")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--seconds", type=float, default=10.0, help="load per client count")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads of the server and the command line (0 = default)")
    args = parser.parse_args(argv)
    sentences = [[w for w, _ in s] for s in data.load_corpus(Config(corpus="treebank")).test]
    threads = ["--threads", str(args.threads)] if args.threads else []
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "tagger.serve", "--model", args.model,
                               "--port", str(port), *threads], stderr=subprocess.PIPE, text=True)
    try:
        wait_until_serving(url, server)
        print(f"{cpu_name()}; model {args.model}; {len(sentences):,} treebank test sentences, "
              f"one a request; {args.seconds:g} s per row")
        rows = []
        for clients in args.clients:
            counts, latencies, elapsed = asyncio.run(load(port, sentences, clients, args.seconds))
            rows.append((clients, counts, latencies, elapsed))
    finally:
        server.terminate()
        server.wait()

    with tempfile.TemporaryDirectory() as work:
        text = Path(work) / "sentences.txt"
        text.write_text("".join(" ".join(s) + "\n" for s in sentences * 5))
        done = subprocess.run([sys.executable, "-m", "tagger.tag", "--model", args.model,
                               "--tokenized", "--file", str(text), "--timing", *threads],
                              capture_output=True, text=True)
    cli = float(TIMING.search(done.stderr).group(3).replace(",", ""))
    print(f"{'clients':>7} {'requests/s':>10} {'tokens/s':>9} {'of CLI':>7} {'p50 ms':>7} "
          f"{'p95 ms':>7} {'p99 ms':>7} {'errors':>6}")
    for clients, counts, latencies, elapsed in rows:
        tokens_per_second = counts["tokens"] / elapsed
        print(f"{clients:7d} {counts['requests'] / elapsed:10,.0f} {tokens_per_second:9,.0f} "
              f"{tokens_per_second / cli:7.0%} {1000 * percentile(latencies, 50):7.1f} "
              f"{1000 * percentile(latencies, 95):7.1f} {1000 * percentile(latencies, 99):7.1f} "
              f"{counts['errors']:6d}")
    print(f"command line (python -m tagger.tag --tokenized --file, the same sentences x5): "
          f"{cli:,.0f} tokens/s")


if __name__ == "__main__":
    main()
