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
