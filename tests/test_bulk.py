"""Tests for tagger.bulk, on one local Ray for the module (2 CPUs, no dashboard): each input file's
output is tagger.tag's own, byte for byte, in every format, whether a file is one block or several;
JSON Lines and Parquet records are tagged as tag_text tags their text; a rerun tags only what is
missing; a driver stopped by Ctrl-C or SIGTERM says so in one line, leaves no partial file under a
final name, and its rerun completes; bad input is one line before any work."""

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import TINY_RUN
from tagger import blocks, bulk, tag
from tagger.config import Config
from tagger.train import train

ray = pytest.importorskip("ray", reason="tagger[cluster] (ray[data]) is not installed")

BLOCK = 2_000  # bytes: the larger files come in several blocks
WORDS = ("The dog ate the apple . Everybody read that book . A cat slept on the mat ! "
         "Mr. Smith went to Washington . He did n't like it there ? She said “ hello ” .").split()


def paragraphs(seed, count):
    """Running text: paragraphs of sentences of toy words, web tokens and odd characters."""
    import random

    rng = random.Random(seed)
    text = []
    for _ in range(count):
        sentences = [" ".join(rng.choices(WORDS, k=rng.randint(3, 12))) + rng.choice([".", "!"])
                     for _ in range(rng.randint(1, 5))]
        extra = rng.choice(["", " Mail bob@example.com :)", " See https://x.com/a?b=1.", " 🙂 é"])
        text.append(" ".join(sentences) + extra)
    return "\n\n".join(text) + "\n"


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("bulk") / "model"
    train(Config(**TINY_RUN, epochs=3, out=str(out)), log=lambda message: None)
    return str(out)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    (folder / "sub").mkdir()
    (folder / "big.txt").write_text(paragraphs(1, 60))  # several blocks
    (folder / "sub" / "small.txt").write_text(paragraphs(2, 3))
    (folder / "lines.txt").write_text("The dog ate\nDogs bark .\n\nA cat\n")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "bytes.txt").write_bytes(b"caf\xe9 \xff ok .\n\nThe dog ate \xe2\x82")
    (folder / ".hidden.txt").write_text("not an input")
    return folder


def tag_output(model, path, *args):
    """`python -m tagger.tag --file PATH ARGS` in this process, reading blocks of BLOCK bytes."""
    out = io.StringIO()
    saved, blocks.BLOCK_BYTES = blocks.BLOCK_BYTES, BLOCK
    try:
        with contextlib.redirect_stdout(out):
            tag.main(["--model", model, "--device", "cpu", "--threads", "1", "--file", str(path),
                      *args])
    finally:
        blocks.BLOCK_BYTES = saved
    return out.getvalue()


def run_bulk(capsys, *args):
    bulk.main([*args, "--block-bytes", str(BLOCK), "--device", "cpu"])
    return capsys.readouterr().err


INPUTS = ["big.txt", "sub/small.txt", "lines.txt", "empty.txt", "bytes.txt"]


@pytest.mark.parametrize("fmt, extra", [("conllu", []), ("json", ["--split", "lines"])])
def test_each_file_s_output_is_tag_s_own_byte_for_byte(model_dir, corpus, tmp_path, capsys,
                                                       monkeypatch, fmt, extra):
    monkeypatch.setattr(bulk, "PROGRESS_SECONDS", 0)  # a progress line for every block
    out = tmp_path / "out"
    err = run_bulk(capsys, str(corpus), "--out", str(out), "--model", model_dir, "--format", fmt,
                   *extra)
    extension = bulk.EXTENSIONS[fmt]
    written = sorted(str(p.relative_to(out)) for p in out.rglob(f"*{extension}")
                     if bulk.PARTS not in p.parts)
    assert written == sorted(name + extension for name in INPUTS)  # .hidden.txt left out
    for name in INPUTS:
        expected = tag_output(model_dir, corpus / name, "--format", fmt, *extra)
        assert (out / (name + extension)).read_text() == expected, name
    manifest = json.loads((out / "manifest.json").read_text())
    big = next(f for f in manifest["files"] if f["output"] == "big.txt" + extension)
    assert big["blocks"] > 2 and not list((out / bulk.PARTS).rglob("*.part"))
    assert manifest["totals"]["tokens"] == sum(f["tokens"] for f in manifest["files"]) > 0
    lines = err.strip().splitlines()
    assert lines[-1].startswith(f"tagged {len(INPUTS)} files") and "tokens/s" in lines[-1]
    assert any(line.startswith("bulk: ") and "files" in line for line in lines[:-1])


def test_a_rerun_tags_only_what_is_missing(model_dir, corpus, tmp_path, capsys):
    out = tmp_path / "out"
    args = (str(corpus / "*.txt"), str(corpus / "sub"), "--out", str(out), "--model", model_dir,
            "--format", "conll")
    run_bulk(capsys, *args)
    first = {p: p.read_bytes() for p in out.rglob("*.conll")}
    (out / "big.txt.conll").unlink()
    err = run_bulk(capsys, *args)
    assert {p: p.read_bytes() for p in out.rglob("*.conll")} == first
    assert "(4 done before)" in err.splitlines()[-1]
    manifest = json.loads((out / "manifest.json").read_text())
    big = next(f for f in manifest["files"] if f["output"] == "big.txt.conll")
    assert manifest["run"]["tokens"] == big["tokens"]  # nothing else was tagged again


def test_records_of_json_lines_and_parquet_are_tagged_as_tag_text_tags_them(
        model_dir, tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = [paragraphs(seed, 2) for seed in range(40)] + ["", "🙂 \ud800 x"]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "r.jsonl").write_text(
        "".join(json.dumps({"id": k, "body": t}) + "\n" for k, t in enumerate(texts)))
    clean = [text.replace("\ud800", "\ufffd") for text in texts]  # Arrow takes no surrogate
    pq.write_table(pa.table({"body": clean}), tmp_path / "in" / "r.parquet", row_group_size=7)
    out = tmp_path / "out"
    run_bulk(capsys, str(tmp_path / "in"), str(tmp_path / "missing.txt"), "--skip-bad", "--out",
             str(out), "--model", model_dir, "--format", "json", "--text-field", "body",
             "--text-column", "body")
    tagger = tag.PosTagger.load(model_dir, "cpu")
    expected = [{"record": k, "tokens": [w for w, _, _ in s], "tags": [t for _, t, _ in s],
                 "spans": [list(span) for _, _, span in s]}
                for k, text in enumerate(clean) for s in tagger.tag_text(text)]
    for name in ("r.jsonl.jsonl", "r.parquet.jsonl"):
        assert [json.loads(line) for line in (out / name).read_text().splitlines()] == expected
    assert json.loads((out / "manifest.json").read_text())["bad"] == [
        f"{tmp_path / 'missing.txt'}: not found"]
    # Parquet out: a row a sentence, numbered over the file.
    run_bulk(capsys, str(tmp_path / "in" / "r.jsonl"), "--out", str(tmp_path / "pq"), "--model",
             model_dir, "--format", "parquet", "--text-field", "body")
    rows = pq.read_table(tmp_path / "pq" / "r.jsonl.parquet").to_pylist()
    assert [r["sentence"] for r in rows] == list(range(1, len(expected) + 1))
    assert [{k: r[k] for k in ("record", "tokens", "tags", "spans")} for r in rows] == expected
    assert {r["file"] for r in rows} == {"r.jsonl"}


def test_a_missing_input_is_one_line_before_any_work(model_dir, tmp_path, capsys, one_line_error):
    with pytest.raises(SystemExit) as stop:
        bulk.main([str(tmp_path / "nope"), "--out", str(tmp_path / "out"), "--model", model_dir])
    captured = capsys.readouterr()
    one_line_error(subprocess.CompletedProcess([], stop.value.code, captured.out, captured.err),
                   "nope", "not found", "--skip-bad")
    assert not (tmp_path / "out").exists()


def test_without_the_cluster_extra_it_says_which_to_install(one_line_error):
    code = ("import sys; sys.modules['ray'] = None  # as if not installed\n"
            "from tagger.bulk import main; main(['x', '--out', 'y'])")
    one_line_error(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  timeout=120), "pip install 'tagger[cluster]'")


FILES = 48


def stop_after_outputs(args, signum, outputs_folder):
    """Run `python -m tagger.bulk ARGS` and send it `signum` once it has written an output."""
    before = len(list(outputs_folder.glob("*.conllu")))
    process = subprocess.Popen([sys.executable, "-m", "tagger.bulk", *args],
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while (len(list(outputs_folder.glob("*.conllu"))) == before and process.poll() is None
           and time.monotonic() < deadline):
        time.sleep(0.05)
    process.send_signal(signum)
    return process.wait(timeout=120), process.stderr.read()


@pytest.mark.slow
def test_a_stopped_driver_says_so_in_one_line_and_its_rerun_completes(model_dir, tmp_path,
                                                                      capsys):
    folder = tmp_path / "many"
    folder.mkdir()
    for k in range(FILES):
        (folder / f"f{k:02d}.txt").write_text(paragraphs(100 + k, 30))
    out = tmp_path / "out"
    args = [str(folder), "--out", str(out), "--model", model_dir, "--format", "conllu",
            "--workers", "1", "--block-bytes", str(BLOCK)]
    for signum in (signal.SIGINT, signal.SIGTERM):
        code, err = stop_after_outputs(args, signum, out)
        assert code == 128 + signum, err
        assert "Traceback" not in err
        assert err.strip().splitlines()[-1].startswith("interrupted: ") and "again" in err
        assert not list(out.glob("*.tmp")) and not list(out.glob(".f*"))  # no half-written file
        for written in out.glob("*.conllu"):  # every file under its final name is whole
            assert written.read_text() == tag_output(model_dir, folder / written.stem, "--format",
                                                     "conllu")
    assert len(list(out.glob("*.conllu"))) < FILES
    bulk.main(args)  # the rerun, with this module's Ray
    assert "done before" in capsys.readouterr().err
    for k in range(FILES):
        assert (out / f"f{k:02d}.txt.conllu").read_text() == tag_output(
            model_dir, folder / f"f{k:02d}.txt", "--format", "conllu")
