"""Elementwise int8 operators as TE computations, bit-exact with TFLite Micro's reference kernels:
MUL (reference_integer_ops::Mul and BroadcastMul4DSlow), QUANTIZE int8 -> int8
(reference_ops::Requantize), and the model's float boundary: QUANTIZE float32 -> int8
(reference_ops::AffineQuantize) and DEQUANTIZE int8 -> float32 (reference_ops::Dequantize).

Floating point appears only in `quantize` and `dequantize`, which the importer accepts only on a
model input and a model output: a float32 input quantized to int8 first thing, an int8 output
dequantized to float32 last. Every other kernel stays integer-only. One block each, "out".

ONNX QDQ models (harness.models.onnx_qdq) reuse MUL and the int8 -> int8 requantization with
`single`: rounded once, halves to even (fixedpoint.requantize), nearer onnxruntime's float
requantization than TFLite Micro's double rounding. Their float edges round halves to even as
QuantizeLinear does, not away from zero as TFLite does, so they have kernels of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tvm import te, tirx

from harness.models.tflite import fixedpoint as fp
from harness.models.tflite.ops import broadcast_index

# |x / scale| beyond this quantizes to -128 or 127 whatever the zero point; clamping to it first
# keeps the float -> int32 conversion defined in C.
_QUANTIZE_LIMIT = 1024.0


@dataclass(frozen=True)
class MulParams:
    input1_offset: int
    input2_offset: int
    multiplier: int
    shift: int
    output_offset: int
    act_min: int
    act_max: int
    single: bool = False  # round once, halves to even (ONNX QDQ); TFLite Micro rounds twice


def _clamp_int8(value: Any, lo: int = -128, hi: int = 127) -> Any:
    return tirx.min(tirx.max(value, fp.i32(lo)), fp.i32(hi)).astype("int8")


def mul(x1: te.Tensor, x2: te.Tensor, *, p: MulParams, out_shape: Sequence[int]) -> te.Tensor:
    """MUL (int8): (x1 - zp1) * (x2 - zp2) rescaled by MultiplyByQuantizedMultiplier, plus the
    output zero point, clamped to the fused activation's range; numpy broadcasting."""

    def body(*idx: Any) -> Any:
        a = x1[broadcast_index(idx, x1.shape)].astype("int32") + fp.i32(p.input1_offset)
        b = x2[broadcast_index(idx, x2.shape)].astype("int32") + fp.i32(p.input2_offset)
        if p.single:
            return fp.requantize(a * b, p.multiplier, p.shift, p.output_offset, p.act_min, p.act_max,
                                 single=True)
        scaled = fp.multiply_by_quantized_multiplier(a * b, p.multiplier, p.shift)
        return _clamp_int8(scaled + fp.i32(p.output_offset), p.act_min, p.act_max)

    return te.compute(tuple(out_shape), body, name="out")


def requantize(
    x: te.Tensor,
    *,
    in_zero_point: int,
    multiplier: int,
    shift: int,
    out_zero_point: int,
    clamp: tuple[int, int] = (-128, 127),
    single: bool = False,
) -> te.Tensor:
    """QUANTIZE int8 -> int8: (x - input zero point) rescaled to the output scale, plus its zero point.
    ONNX QDQ models also use it for a Relu/Clip or a QuantizeLinear into other parameters: clamped
    to `clamp`, rounded once (`single`)."""

    def body(*idx: Any) -> Any:
        centered = x[idx].astype("int32") - fp.i32(in_zero_point)
        if single:
            return fp.requantize(centered, multiplier, shift, out_zero_point, *clamp, single=True)
        return _clamp_int8(
            fp.multiply_by_quantized_multiplier(centered, multiplier, shift) + fp.i32(out_zero_point)
        )

    return te.compute(tuple(int(d) for d in x.shape), body, name="out")


def exact_f32(value: float) -> Any:
    """A float32 constant by its bits: TVM's C printer writes float literals with 7 significant
    digits, which does not round-trip every float32 (a scale of 0.098744914 became 9.874491e-02f)."""
    bits = int(np.array(value, np.float32).view(np.uint32))
    return tirx.reinterpret("float32", tirx.const(bits, "uint32"))


def quantize(x: te.Tensor, *, scale: float, zero_point: int) -> te.Tensor:
    """QUANTIZE float32 -> int8 (model input only): x / scale in float32, rounded half away from
    zero (TfLiteRound), plus the zero point, clamped. The rounding is exact and uses no libm: the
    quotient is truncated by the float -> int32 conversion, and the exact remainder decides the
    step away from zero. Quotients beyond +-1024 saturate (-128 or 127), infinities included;
    TFLite's own float -> int32 cast is undefined past int32 there."""
    limit = tirx.const(_QUANTIZE_LIMIT, "float32")

    def rounded(q: Any) -> Any:
        def away(t: Any) -> Any:
            frac = q - t.astype("float32")  # exact: t and q agree on every bit above the point
            half = tirx.const(0.5, "float32")
            return t + fp.select(frac >= half, 1, 0) - fp.select(frac <= -half, 1, 0)

        return fp.let(q.astype("int32"), away, "t")

    def body(*idx: Any) -> Any:
        quotient = x[idx] / exact_f32(scale)
        q = fp.let(tirx.min(tirx.max(quotient, -limit), limit), rounded, "q")
        return _clamp_int8(q + fp.i32(zero_point))

    return te.compute(tuple(int(d) for d in x.shape), body, name="out")


def dequantize(x: te.Tensor, *, scale: float, zero_point: int) -> te.Tensor:
    """DEQUANTIZE int8 -> float32 (model output only): scale * (x - zero point). TFLite multiplies
    in double and rounds to float; the product of a float32 scale and an integer below 2^9 is
    exact in double, so one float32 multiply rounds to the same value."""

    def body(*idx: Any) -> Any:
        centered = (x[idx].astype("int32") - fp.i32(zero_point)).astype("float32")
        return centered * exact_f32(scale)

    return te.compute(tuple(int(d) for d in x.shape), body, name="out")
