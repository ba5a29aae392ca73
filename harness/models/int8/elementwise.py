"""MUL, LOGISTIC, TANH, QUANTIZE and DEQUANTIZE: checked, their fixed-point parameters computed
as TFLite Micro's Prepare computes them, and emitted as ops_elementwise / ops_activation kernels.
They register into converters.CONVERTERS.

QUANTIZE from float32 and DEQUANTIZE to float32 are the only float kernels, and only at the model
boundary (reader.check_int8 admits a float32 tensor only as a model input that a QUANTIZE reads
or a model output that a DEQUANTIZE writes)."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.models.compile import ModelError
from harness.models.tflite import quant
from harness.models.tflite.converters import CONVERTERS, _broadcast_io, _io, _requant
from harness.models.tflite.importer import Context
from harness.models.tflite.ops_activation import ActivationParams, logistic, tanh
from harness.models.tflite.ops_elementwise import MulParams, dequantize, mul, quantize, requantize
from harness.models.tflite.reader import Operator, Tensor


def convert_mul(ctx: Context, op: Operator) -> Any:
    a, b, out = _broadcast_io(ctx, op)
    mult, shift = quant.mul_multiplier(a.scale, b.scale, out.scale)
    rq = _requant(op, out, [shift])
    p = MulParams(-a.zero_point, -b.zero_point, mult, shift, out.zero_point, rq.act_min, rq.act_max)
    return ctx.emit(
        op,
        "mul",
        lambda A, B: mul(A, B, p=p, out_shape=out.shape),
        [ctx.value(op, op.inputs[0]), ctx.value(op, op.inputs[1])],
    )


def _activation(ctx: Context, op: Operator, scale: float, zero_point: int) -> tuple[Tensor, ActivationParams]:
    (x,), out = _io(ctx, op, 1)
    assert x is not None
    if out.zero_point != zero_point or np.float32(out.scale) != np.float32(scale) or out.shape != x.shape:
        raise ModelError(
            f"{op.label}: an int8 {op.op.lower()} output needs the input's shape, scale 1/{round(1 / scale)} "
            f"and zero point {zero_point} (what TFLite Micro's kernel produces)"
        )
    mult, left_shift, radius = quant.activation_input_scaling(op.label, x.scale)
    return x, ActivationParams(x.zero_point, radius, mult, left_shift)


def convert_logistic(ctx: Context, op: Operator) -> Any:
    _, p = _activation(ctx, op, 1 / 256, -128)
    return ctx.emit(op, "logistic", lambda X: logistic(X, p=p), [ctx.value(op, op.inputs[0])])


def convert_tanh(ctx: Context, op: Operator) -> Any:
    _, p = _activation(ctx, op, 1 / 128, 0)
    return ctx.emit(op, "tanh", lambda X: tanh(X, p=p), [ctx.value(op, op.inputs[0])])


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


CONVERTERS.update(
    {
        "MUL": convert_mul,
        "LOGISTIC": convert_logistic,
        "TANH": convert_tanh,
        "QUANTIZE": convert_quantize,
        "DEQUANTIZE": convert_dequantize,
    }
)
