"""The code's shape: ruff-clean Python, the import layers of pyproject.toml kept (import-linter),
and no Python or C file over 400 lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PYTHON_DIRS = ["harness", "utvm_ci", "tests", "acceptance_tests", "bench", "setup.py"]
MAX_LINES = 400


def _tool(name: str) -> str:
    exe = Path(sys.executable).with_name(name)
    if not exe.exists():
        pytest.fail(f"{name} is not installed (it is part of the dev extra)")
    return str(exe)


def test_ruff_clean() -> None:
    proc = subprocess.run([_tool("ruff"), "check", *PYTHON_DIRS], cwd=REPO_ROOT, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_import_layers_are_kept() -> None:
    proc = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=REPO_ROOT, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "0 broken" in proc.stdout


def test_no_file_over_400_lines() -> None:
    files = subprocess.run(["git", "ls-files", "*.py", "*.c", "*.h"], cwd=REPO_ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    long = {f: n for f in files if (n := len((REPO_ROOT / f).read_text().splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines: {long}"
