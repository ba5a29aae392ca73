"""The QDQ fuzz cases' tie-breaker (harness.fuzz.exact): where onnxruntime's float32 arithmetic puts
an exact rounding tie on the wrong side, the float64 evaluation keeps it a tie; a case off onnxruntime
only there is listed apart, and a real difference is not excused by it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.fuzz.cases import make_case
from harness.fuzz.runner import fuzz, reference_rounding
from harness.targets import get_target
from tests.conftest import require_tvm

# AveragePool (2x4 window, count_include_pad=0, averages of 4 and 8 int8 values) > Sigmoid: four
# averages are exact halves; onnxruntime rounds two of them away from even, and Sigmoid makes 1 LSB 3.
TIE = (26000, 515)
pytestmark = pytest.mark.tvm


def test_the_exact_evaluation_keeps_the_tie_onnxruntime_loses() -> None:
    from harness.fuzz.cases import KINDS

    case = make_case("qdq", *TIE)
    kind = KINDS["qdq"]
    ort = kind.reference(case.model, case.inputs)[0].astype(np.int64)
    found = kind.exact(case.model, case.inputs)
    assert found is not None
    exact = found[0]
    assert exact.dtype == np.int8 and exact.shape == ort.shape
    assert int(np.max(np.abs(exact - ort))) == 3


def test_a_real_difference_is_not_excused_by_the_exact_evaluation() -> None:
    from harness.fuzz.cases import KINDS

    case = make_case("qdq", *TIE)
    case.expected = KINDS["qdq"].reference(case.model, case.inputs)
    exact = KINDS["qdq"].exact(case.model, case.inputs)
    assert exact is not None and reference_rounding(case, exact)
    off = exact[0].astype(np.int64)
    off.flat[0] += 2 if off.flat[0] < 100 else -2
    assert not reference_rounding(case, [off.astype(np.int8)])
    # MaxPool with pads [0, 1, 0, 1]: onnx.reference reads them in another order than onnxruntime and
    # ONNX, so its float64 evaluation is off there with no tie at all; an output off the same way is
    # a real difference, not the reference's rounding
    maxpool = make_case("qdq", 2, 4067)
    maxpool.expected = KINDS["qdq"].reference(maxpool.model, maxpool.inputs)
    assert KINDS["qdq"].exact(maxpool.model, maxpool.inputs) is None
    assert not reference_rounding(maxpool, [np.full_like(maxpool.expected[0], 127)])
    tflite = make_case("tflite", 1, 1)
    tflite.expected = [np.zeros(1, np.int8)]
    assert not reference_rounding(tflite, [np.ones(1, np.int8)])


def test_the_runner_lists_a_case_off_only_by_the_references_rounding(tmp_path: Path) -> None:
    require_tvm()
    report = fuzz([make_case("qdq", *TIE)], get_target("host"), tmp_path)
    assert report.disagreements == []
    assert report.matched == 1
    assert report.reference_rounding == ["qdq-s26000-i515-z8 [AveragePool>Sigmoid]"]
