"""The int8 operator table (harness/models/int8/operators.py) is whole: every kernel kind a
converter emits (TFLite's and ONNX QDQ's) has a default schedule, every registered kind is emitted
by some converter, and every TFLite converter is registered under a real TFLite builtin operator.
A kernel whose kind is missing would otherwise be emitted unscheduled, without a word."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[1] / "harness" / "models"


def _emitted_kinds() -> dict[str, str]:
    """Each kernel kind written as a literal in a call to `emit(op, KIND, ...)` or
    `emit_kernel(bb, name, KIND, ...)` under harness/models, with where it is."""
    kinds: dict[str, str] = {}
    for path in sorted(MODELS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            position = {"emit": 1, "emit_kernel": 2}.get(name)
            if position is None or len(node.args) <= position:
                continue
            arg = node.args[position]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                kinds.setdefault(arg.value, f"{path.relative_to(MODELS)}:{node.lineno}")
    return kinds


def test_every_emitted_kernel_kind_has_a_default_schedule() -> None:
    pytest.importorskip("tvm")
    from harness.models.int8.operators import DEFAULT_SCHEDULES

    emitted = _emitted_kinds()
    assert len(emitted) >= 20  # the scan finds the converters' kinds
    missing = {kind: where for kind, where in emitted.items() if kind not in DEFAULT_SCHEDULES}
    assert not missing, f"kernel kinds without a default schedule: {missing}"
    unused = set(DEFAULT_SCHEDULES) - set(emitted)
    assert not unused, f"registered kernel kinds no converter emits: {sorted(unused)}"
    assert all(callable(fn) for fn in DEFAULT_SCHEDULES.values())


def test_every_converter_is_a_tflite_builtin_operator() -> None:
    pytest.importorskip("tvm")
    tflite = pytest.importorskip("tflite")
    from harness.models.int8.operators import CONVERTERS, FAMILIES

    builtins = {name for name in vars(tflite.BuiltinOperator) if not name.startswith("_")}
    assert set(CONVERTERS) <= builtins, sorted(set(CONVERTERS) - builtins)
    assert "LEAKY_RELU" in CONVERTERS
    assert sum(len(f.converters) for f in FAMILIES) == len(CONVERTERS)  # no operator in two families
    assert sum(len(f.kernels) for f in FAMILIES) == len({k for f in FAMILIES for k in f.kernels})


def test_the_table_is_explicit_not_an_import_side_effect() -> None:
    """No int8 module fills a registry when imported: every family ends with its FAMILY and
    operators.py lists them."""
    import re

    for path in sorted((MODELS / "int8").glob("*.py")):
        text = path.read_text()
        pattern = r"\b(CONVERTERS|DEFAULT_SCHEDULES)\.(update|setdefault)\(|noqa: E402"
        assert not re.search(pattern, text), path
