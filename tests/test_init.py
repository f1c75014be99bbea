"""Tests for what importing tagger does: OpenMP's idle threads sleep, unless the user chose
otherwise; and the commands answer --help and flag errors without loading torch or NLTK."""

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("given, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_openmp_wait_policy_is_passive_unless_the_user_set_one(given, expected):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    seen = subprocess.run([sys.executable, "-c", "import os, tagger; "
                           "print(os.environ['OMP_WAIT_POLICY'])"],
                          env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert seen == expected


# Run as `python -m`; then the modules imported, torch and NLTK among them or not.
_HEAVY_IMPORTS_SEEN = """
import runpy, sys
sys.argv = ["prog", *sys.argv[1:]]
try:
    runpy.run_module(sys.argv.pop(1), run_name="__main__", alter_sys=True)
except SystemExit as e:
    print("exit", e.code)
print(sorted({m.split(".")[0] for m in sys.modules} & {"torch", "nltk", "sklearn"}))
"""


@pytest.mark.parametrize("command", ["tagger.train", "tagger.tag", "tagger.pretrain"])
@pytest.mark.parametrize("args, code", [(["--help"], 0), (["--no-such-flag"], 2)])
def test_help_and_flag_errors_answer_before_torch_or_nltk_is_imported(command, args, code):
    # torch and NLTK take seconds to import; --help and a mistyped flag need neither.
    seen = subprocess.run([sys.executable, "-c", _HEAVY_IMPORTS_SEEN, command, *args],
                          capture_output=True, text=True, timeout=120)
    assert seen.stdout.splitlines()[-2:] == [f"exit {code}", "[]"], seen.stdout + seen.stderr


def test_the_check_above_sees_torch_when_a_command_imports_it(tmp_path):
    # The same check on a run that does load torch: tagging with a missing model folder.
    seen = subprocess.run([sys.executable, "-c", _HEAVY_IMPORTS_SEEN, "tagger.tag", "--model",
                           str(tmp_path / "none"), "--tokenized", "a b"],
                          capture_output=True, text=True, timeout=120)
    assert seen.stdout.splitlines()[-2:] == ["exit 2", "['torch']"], seen.stdout + seen.stderr


def _imports_of(module_path):
    """The package's modules a module imports, anywhere in it (functions too)."""
    import re

    source = module_path.read_text()
    found = set(re.findall(r"from tagger\.(\w+) import", source))
    for names in re.findall(r"from tagger import ([\w, ]+)", source):
        found |= {name.strip() for name in names.split(",")}
    return found - {module_path.stem}


def test_data_flows_one_way_no_two_modules_import_each_other():
    from pathlib import Path

    import tagger

    graph = {path.stem: _imports_of(path) for path in Path(tagger.__file__).parent.glob("*.py")}
    assert graph["text"] == set() and "tag" in graph["serve"]  # the check reads imports

    def reaches(start, goal, seen=()):
        return any(m == goal or (m not in seen and reaches(m, goal, (*seen, m)))
                   for m in graph.get(start, ()))

    cycles = sorted(m for m in graph if reaches(m, m))
    assert cycles == [], f"modules in an import cycle: {cycles}"
