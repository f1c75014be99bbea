"""Every measuring script ends a user's error as the commands do: one line, exit code 2, no
traceback; here, the NLTK data it reads is missing (NLTK_DATA pointing at an empty folder)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@pytest.mark.parametrize("script, args", [
    ("eval_splitters.py", []),
    ("bench_end_to_end.py", ["--threads", "1"]),
    ("bench_serve.py", []),
    ("eval_treebank.py", ["--corpus", "treebank"]),
])
def test_a_script_without_its_nltk_data_says_so_in_one_line(script, args, tmp_path,
                                                            one_line_error):
    # NLTK looks in the home folder too, and would find data there on a user's machine.
    env = {**os.environ, "NLTK_DATA": str(tmp_path), "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, str(SCRIPTS / script), *args], env=env,
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    one_line_error(result, "NLTK resource", "python -m nltk.downloader")


def test_bench_tag_times_both_taggers_on_the_same_text(tmp_path):
    """A tiny model and the perceptron trained on its corpus (the toy one), on a file of text:
    both taggers' rows, the path of the products and the limit come out."""
    from conftest import TINY_RUN
    from tagger.config import Config
    from tagger.train import train

    train(Config(**{**TINY_RUN, "epochs": 1}, out=str(tmp_path / "model")), log=lambda m: None)
    text = tmp_path / "text.txt"
    text.write_text("The dog ate the apple .\nEverybody read that book .\n" * 20)
    result = subprocess.run([sys.executable, str(SCRIPTS / "bench_tag.py"), "--model",
                             str(tmp_path / "model"), "--text", str(text), "--tokens", "100",
                             "--iterations", "1", "--repeat", "1", "--cores", "2"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "text: " in out and "105 tokens" in out  # whole sentences, up to the first past 100
    rows = [line for line in out.splitlines() if line.startswith("| ") and "tokens/s" not in line]
    assert [r.split(" | ")[0] for r in rows] == ["| 1 thread", "| 2 cores", "| 2 threads, 1 process"]
    assert all(float(r.split(" | ")[1].replace(",", "")) > 0 for r in rows)
    assert "products: BLAS addmm" in out or "products: oneDNN" in out
    assert "multiply-adds per token" in out and "at most" in out
