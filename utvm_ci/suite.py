"""The acceptance suite as the CI jobs run it: the installed `acceptance_tests` package, with its own
pytest settings (acceptance_tests/pytest.ini), wherever utvm is installed."""

from __future__ import annotations

import sys
from pathlib import Path

import acceptance_tests

SUITE = Path(acceptance_tests.__file__).resolve().parent
ROOT = SUITE.parent  # the jobs run pytest here, so node ids read acceptance_tests/test_*.py::...


def pytest_argv(*args: str, tests: list[str] | None = None) -> list[str]:
    """`python -m pytest` on the suite (or on these node ids) with the suite's settings; run it in ROOT."""
    return [sys.executable, "-m", "pytest", "-c", str(SUITE / "pytest.ini"), "--rootdir", str(ROOT),
            "-p", "no:cacheprovider", *args, *(tests if tests is not None else [SUITE.name])]
