"""Tests for tagger/__init__.py: importing the package makes OpenMP's idle threads sleep, unless
the user chose otherwise."""

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
