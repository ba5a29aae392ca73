"""The Python code is ruff-clean."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import REPO_ROOT


def test_ruff_clean() -> None:
    ruff = shutil.which("ruff") or str(REPO_ROOT / ".venv" / "bin" / "ruff")
    if not shutil.which(ruff):
        pytest.fail("ruff is not installed (it is part of the dev extra)")
    dirs = ["harness", "tests", "acceptance_tests", "ci", "bench"]
    proc = subprocess.run([ruff, "check", *dirs], cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
