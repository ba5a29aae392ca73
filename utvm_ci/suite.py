"""The acceptance suite as the CI jobs run it: the installed `acceptance_tests` package, with its own
pytest settings (acceptance_tests/pytest.ini), wherever utvm is installed; and the model tier's models."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import acceptance_tests
from harness import resources
from harness.errors import UtvmError

SUITE = Path(acceptance_tests.__file__).resolve().parent
ROOT = SUITE.parent  # the jobs run pytest here, so node ids read acceptance_tests/test_*.py::...
MODEL_TESTS = "test_models"  # the model tier's tests (-k)
FUZZ_TESTS = "test_fuzz_tier"  # the fuzz tier's (-k), run like the model tier's: on every board
MLPERF_TINY = ("kws01", "vww01", "ic01", "ad01")  # the default model set: MLPerf Tiny's int8 models
MODEL_SUFFIXES = (".tflite", ".onnx")


def pytest_argv(*args: str, tests: list[str] | None = None) -> list[str]:
    """`python -m pytest` on the suite (or on these node ids) with the suite's settings; run it in ROOT."""
    return [sys.executable, "-m", "pytest", "-c", str(SUITE / "pytest.ini"), "--rootdir", str(ROOT),
            "-p", "no:cacheprovider", *args, *(tests if tests is not None else [SUITE.name])]


def default_models_dir() -> Path | None:
    """../shared/models/mlperf-tiny beside the checkout utvm runs from (None when it is installed)."""
    checkout = resources.source_checkout()
    return checkout.parent / "shared" / "models" / "mlperf-tiny" if checkout is not None else None


def model_files(directory: Path | None, names: Sequence[str]) -> list[Path]:
    """The named models in the directory (NAME.tflite, else NAME.onnx); none for no names."""
    if not names:
        return []
    if directory is None:
        raise UtvmError("utvm runs from an installed package: give the models' directory with --models-dir "
                        "(or --no-models)")
    found: list[Path] = []
    missing: list[str] = []
    for name in names:
        path = next((c for c in (directory / f"{name}{x}" for x in MODEL_SUFFIXES) if c.is_file()), None)
        if path is None:
            missing.append(name)
        else:
            found.append(path.absolute())
    if missing:
        looked = "/".join(MODEL_SUFFIXES)
        raise UtvmError(f"no model {', '.join(missing)} in {directory} (looked for {looked}); "
                        "give --models-dir DIR and --models NAMES, or --no-models")
    return found


def model_args(models: Sequence[Path]) -> list[str]:
    """The plugin's options that run the model tier with these models."""
    return [f"--utvm-models={m}" for m in models]


def names(text: str | None) -> tuple[str, ...]:
    """Comma-separated names (None: the default set)."""
    return MLPERF_TINY if text is None else tuple(n for n in text.split(",") if n)
