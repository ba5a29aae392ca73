"""LOGISTIC and TANH int8 -> int8 as TFLite Micro computes them (reference_integer_ops::Logistic
and ::Tanh): the input minus its zero point, saturated outside the input radius, else rescaled
to Q4.27 by MultiplyByQuantizedMultiplier and put through gemmlowp's fixed-point logistic or
tanh (fixedpoint.py), whose Q0.31 result is rounded down to 8 bits. Integer-only, one block
("out"); no lookup table, so the kernel is TFLite's arithmetic for every input by construction
(the tests still compare all 256 inputs with TFLite Micro).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tvm import te, tirx

from harness.models.tflite import fixedpoint as fp

INPUT_INTEGER_BITS = 4  # Q4.27 input to gemmlowp's logistic and tanh


@dataclass(frozen=True)
class ActivationParams:
    """The input zero point, radius, multiplier and left shift TFLite Micro's Prepare computes."""

    in_zero_point: int
    radius: int
    multiplier: int
    left_shift: int


def _saturating(x: te.Tensor, p: ActivationParams, finish: Callable[[Any], Any]) -> te.Tensor:
    """-128 for inputs at or below -radius, 127 at or above radius, else finish(Q4.27 input).
    TIR evaluates both arms of a Select, so the fixed-point path gets the input clamped into the
    radius: defined C (no int32 overflow) whatever the input, and the same value where it is used."""

    def body(*idx: Any) -> Any:
        def pick(centered: Any) -> Any:
            inner = tirx.min(tirx.max(centered, fp.i32(1 - p.radius)), fp.i32(p.radius - 1))
            q4 = fp.multiply_by_quantized_multiplier(inner, p.multiplier, p.left_shift)
            result = fp.select(centered <= -p.radius, -128, fp.select(centered >= p.radius, 127, finish(q4)))
            return result.astype("int8")

        return fp.let(x[idx].astype("int32") - fp.i32(p.in_zero_point), pick, "input")

    return te.compute(tuple(int(d) for d in x.shape), body, name="out")


def logistic(x: te.Tensor, *, p: ActivationParams) -> te.Tensor:
    """LOGISTIC: output scale 1/256, zero point -128."""

    def finish(q4: Any) -> Any:
        out = fp.rounding_divide_by_pot(fp.logistic(q4, INPUT_INTEGER_BITS), 31 - 8) - fp.i32(128)
        return tirx.min(tirx.max(out, fp.i32(-128)), fp.i32(127))

    return _saturating(x, p, finish)


def tanh(x: te.Tensor, *, p: ActivationParams) -> te.Tensor:
    """TANH: output scale 1/128, zero point 0."""

    def finish(q4: Any) -> Any:
        out = fp.rounding_divide_by_pot(fp.tanh(q4, INPUT_INTEGER_BITS), 31 - 7)
        return tirx.min(tirx.max(out, fp.i32(-128)), fp.i32(127))

    return _saturating(x, p, finish)
