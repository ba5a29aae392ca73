"""LOGISTIC, TANH and LEAKY_RELU. LOGISTIC and TANH int8 -> int8 as TFLite Micro computes them
(reference_integer_ops::Logistic and ::Tanh): the input minus its zero point, saturated outside
the input radius, else rescaled to Q4.27 by MultiplyByQuantizedMultiplier and put through
gemmlowp's fixed-point logistic or tanh (fixedpoint.py), whose Q0.31 result is rounded down to
8 bits. Integer-only, one block ("out"); no lookup table, so the kernel is TFLite's arithmetic
for every input by construction (the tests still compare all 256 inputs with TFLite Micro).

LEAKY_RELU int8 -> int8 as TFLite Micro computes it (reference_ops::QuantizeLeakyRelu): two
quantized multipliers, identity and alpha, one for each side of the input zero point.

Here too: the input scaling TFLite Micro's Prepare computes, the converters, the default schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from tvm import te, tirx

from harness.errors import ModelError
from harness.models.int8 import fixedpoint as fp
from harness.models.int8.convert import _io
from harness.models.int8.emit import Context
from harness.models.int8.family import Family
from harness.models.int8.quant import INT32_MAX, input_radius, quantize_multiplier, tflite_round
from harness.models.int8.schedules import elementwise
from harness.models.int8.tensors import clamp_int8
from harness.models.int8.tflite_model import Operator, Tensor

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


def activation_input_scaling(
    op_label: str, input_scale: float, integer_bits: int = 4
) -> tuple[int, int, int]:
    """LOGISTIC and TANH (int8): the input scale times 2^(31 - integer_bits) as frexp gives it,
    (multiplier rounded from the fraction times 2^31, left shift = the exponent), and the input
    radius beyond which the output saturates."""
    real = float(np.float32(input_scale)) * float(1 << (31 - integer_bits))
    q, left_shift = math.frexp(real)
    multiplier = int(tflite_round(q * (1 << 31)))
    if left_shift < 0 or multiplier > INT32_MAX:
        raise ModelError(f"{op_label}: input scale {input_scale} is outside what the int8 kernel handles")
    radius = input_radius(integer_bits, left_shift)
    if left_shift > 30:  # an input scale of 8 or more (Q4.27): radius 0, every input saturates
        assert radius == 0  # (-128 at or below the zero point, 127 above), the rescaling is never used
        left_shift = 30
    return multiplier, left_shift, radius


def _activation(ctx: Context, op: Operator, scale: float, zero_point: int) -> tuple[Tensor, ActivationParams]:
    (x,), out = _io(ctx, op, 1)
    assert x is not None
    if out.zero_point != zero_point or np.float32(out.scale) != np.float32(scale) or out.shape != x.shape:
        raise ModelError(
            f"{op.label}: an int8 {op.op.lower()} output needs the input's shape, scale 1/{round(1 / scale)} "
            f"and zero point {zero_point} (what TFLite Micro's kernel produces)"
        )
    mult, left_shift, radius = activation_input_scaling(op.label, x.scale)
    return x, ActivationParams(x.zero_point, radius, mult, left_shift)


def convert_logistic(ctx: Context, op: Operator) -> Any:
    _, p = _activation(ctx, op, 1 / 256, -128)
    return ctx.emit(op, "logistic", lambda X: logistic(X, p=p), [ctx.value(op, op.inputs[0])])


def convert_tanh(ctx: Context, op: Operator) -> Any:
    _, p = _activation(ctx, op, 1 / 128, 0)
    return ctx.emit(op, "tanh", lambda X: tanh(X, p=p), [ctx.value(op, op.inputs[0])])


@dataclass(frozen=True)
class LeakyReluParams:
    """The zero points and the two multipliers TFLite Micro's CalculateOpDataLeakyRelu computes:
    identity (input scale / output scale) for inputs at or above the zero point, alpha (input scale
    * alpha / output scale) below it."""

    in_zero_point: int
    out_zero_point: int
    identity_multiplier: int
    identity_shift: int
    alpha_multiplier: int
    alpha_shift: int


def leaky_relu_params(input_scale: float, alpha: float, output_scale: float, in_zero_point: int,
                      out_zero_point: int) -> LeakyReluParams:
    """Both ratios in double, from the float32 scales and alpha, as TFLite Micro's
    CalculateOpDataLeakyRelu forms them, then QuantizeMultiplier."""
    s_in, s_out = np.float32(input_scale), np.float32(output_scale)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        alpha_real = float(s_in) * float(np.float32(alpha)) / float(s_out)
        identity_real = float(s_in) / float(s_out)
    if not (math.isfinite(alpha_real) and math.isfinite(identity_real)):
        raise ModelError(f"leaky relu scales {input_scale}, {alpha}, {output_scale} do not give a multiplier")
    identity, identity_shift = quantize_multiplier(identity_real)
    alpha_mult, alpha_shift = quantize_multiplier(alpha_real)
    return LeakyReluParams(in_zero_point, out_zero_point, identity, identity_shift, alpha_mult, alpha_shift)


def leaky_relu(x: te.Tensor, *, p: LeakyReluParams) -> te.Tensor:
    """LEAKY_RELU (reference_ops::QuantizeLeakyRelu): the input minus its zero point, times the
    identity multiplier where it is >= 0 and the alpha multiplier where it is below (both
    MultiplyByQuantizedMultiplier), plus the output zero point, clamped to int8. One block, "out";
    both arms are defined for every int8 input (|centered| < 2^8, shifts within int32)."""

    def body(*idx: Any) -> Any:
        def pick(centered: Any) -> Any:
            identity = fp.multiply_by_quantized_multiplier(centered, p.identity_multiplier, p.identity_shift)
            alpha = fp.multiply_by_quantized_multiplier(centered, p.alpha_multiplier, p.alpha_shift)
            return clamp_int8(fp.select(centered >= 0, identity, alpha) + fp.i32(p.out_zero_point))

        return fp.let(x[idx].astype("int32") - fp.i32(p.in_zero_point), pick, "input")

    return te.compute(tuple(int(d) for d in x.shape), body, name="out")


def convert_leaky_relu(ctx: Context, op: Operator) -> Any:
    (x,), out = _io(ctx, op, 1)
    assert x is not None
    if out.shape != x.shape:
        raise ModelError(f"{op.label}: output shape {list(out.shape)} is not the input's {list(x.shape)}")
    alpha = float(op.options.get("alpha", 0.0))
    if not alpha >= 0.0:  # TFLite Micro's multipliers are nonnegative (a DCHECK): no rounding to follow
        raise ModelError(f"{op.label}: alpha {alpha:g} is negative; only alpha >= 0 is supported")
    p = leaky_relu_params(x.scale, alpha, out.scale, x.zero_point, out.zero_point)
    return ctx.emit(op, "leaky_relu", lambda X: leaky_relu(X, p=p), [ctx.value(op, op.inputs[0])])


FAMILY = Family(
    kernels={"logistic": elementwise, "tanh": elementwise, "leaky_relu": elementwise},
    converters={"LOGISTIC": convert_logistic, "TANH": convert_tanh, "LEAKY_RELU": convert_leaky_relu},
)
