"""Shared test setup: point NLTK at the workspace's shared data when NLTK_DATA is not set, and the
helpers that run the real command line and check its one-line errors."""

import os
import subprocess
import sys
from pathlib import Path

import nltk
import pytest

SHARED_NLTK_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "nltk_data"

# NLTK reads NLTK_DATA once, when it is imported, so its search path is extended as well.
if "NLTK_DATA" not in os.environ and SHARED_NLTK_DATA.is_dir():
    os.environ["NLTK_DATA"] = str(SHARED_NLTK_DATA)
    nltk.data.path.append(str(SHARED_NLTK_DATA))


def _run_cli(module, *args, cwd=None, input=None, env=None):
    """`python -m MODULE ARGS` as a user runs it; stdout and stderr come back as text."""
    if isinstance(input, str):
        input = input.encode()
    result = subprocess.run([sys.executable, "-m", module, *args], input=input, cwd=cwd, env=env,
                            capture_output=True, timeout=300)
    result.stdout = result.stdout.decode("utf-8", "replace")
    result.stderr = result.stderr.decode("utf-8", "replace")
    return result


def _assert_one_line_error(result, *words):
    """The promise for every error a user can cause: exit code 2, one line, no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


@pytest.fixture(scope="session")
def run_cli():
    return _run_cli


@pytest.fixture(scope="session")
def one_line_error():
    return _assert_one_line_error


class _Payload:
    """Unpickling this creates `marker`: the proof that a load ran code from the file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="session")
def payload():
    """payload(marker): an object whose unpickling creates the file `marker`."""
    return _Payload
