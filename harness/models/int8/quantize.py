"""QUANTIZE and DEQUANTIZE, bit-exact with TFLite Micro's reference kernels: QUANTIZE int8 -> int8
(reference_ops::Requantize) and the model's float boundary, QUANTIZE float32 -> int8
(reference_ops::AffineQuantize) and DEQUANTIZE int8 -> float32 (reference_ops::Dequantize): TE
compute (one block, "out"), converters and default schedule.

Floating point appears only in `quantize` and `dequantize`, which the importer accepts only on a
model input and a model output (tflite_reader.check_int8). ONNX QDQ models reuse the int8 -> int8
requantization with `single` (rounded once, halves to even); their float edges round halves to
even as QuantizeLinear does, so they have kernels of their own (qdq.py) under the same kinds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tvm import te, tirx

from harness.errors import ModelError
from harness.models.int8 import fixedpoint as fp
from harness.models.int8 import quant
from harness.models.int8.convert import _io
from harness.models.int8.emit import Context
from harness.models.int8.family import Family
from harness.models.int8.schedules import elementwise
from harness.models.int8.tensors import clamp_int8
from harness.models.int8.tflite_model import Operator

# |x / scale| beyond this quantizes to -128 or 127 whatever the zero point; clamping to it first
# keeps the float -> int32 conversion defined in C.
_QUANTIZE_LIMIT = 1024.0


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
        return clamp_int8(
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
        return clamp_int8(q + fp.i32(zero_point))

    return te.compute(tuple(int(d) for d in x.shape), body, name="out")


def dequantize(x: te.Tensor, *, scale: float, zero_point: int) -> te.Tensor:
    """DEQUANTIZE int8 -> float32 (model output only): scale * (x - zero point). TFLite multiplies
    in double and rounds to float; the product of a float32 scale and an integer below 2^9 is
    exact in double, so one float32 multiply rounds to the same value."""

    def body(*idx: Any) -> Any:
        centered = (x[idx].astype("int32") - fp.i32(zero_point)).astype("float32")
        return centered * exact_f32(scale)

    return te.compute(tuple(int(d) for d in x.shape), body, name="out")


def convert_quantize(ctx: Context, op: Operator) -> Any:
    """float32 -> int8 on a model input (float at the model boundary only), or int8 -> int8."""
    (x,), out = _io(ctx, op, 1)
    assert x is not None
    if out.type != "INT8" or x.shape != out.shape or x.type not in ("FLOAT32", "INT8"):
        raise ModelError(f"{op.label}: only float32 or int8 to int8 of the same shape is supported")
    if x.type == "FLOAT32":
        scale, zp = float(np.float32(out.scale)), out.zero_point
        return ctx.emit(
            op, "quantize", lambda X: quantize(X, scale=scale, zero_point=zp), [ctx.value(op, op.inputs[0])]
        )
    mult, shift = quant.scale_ratio_multiplier(x.scale, out.scale)
    return ctx.emit(
        op,
        "requantize",
        lambda X: requantize(
            X, in_zero_point=x.zero_point, multiplier=mult, shift=shift, out_zero_point=out.zero_point
        ),
        [ctx.value(op, op.inputs[0])],
    )


def convert_dequantize(ctx: Context, op: Operator) -> Any:
    """int8 -> float32 on a model output (float at the model boundary only)."""
    (x,), out = _io(ctx, op, 1)
    assert x is not None
    if out.type != "FLOAT32" or x.type != "INT8" or x.shape != out.shape:
        raise ModelError(f"{op.label}: only int8 to float32 of the same shape is supported")
    scale, zp = float(np.float32(x.scale)), x.zero_point
    return ctx.emit(
        op, "dequantize", lambda X: dequantize(X, scale=scale, zero_point=zp), [ctx.value(op, op.inputs[0])]
    )


FAMILY = Family(
    kernels={"quantize": elementwise, "requantize": elementwise, "dequantize": elementwise},
    converters={"QUANTIZE": convert_quantize, "DEQUANTIZE": convert_dequantize},
)
