"""Sigmoid and Tanh on a dequantized int8 activation, through a 256-entry int8 lookup table.

onnxruntime computes DQ -> f -> Q in float: the input dequantized in float32 ((q - zero point) *
scale), the function, the result quantized (round half to even of y / scale in float32, plus the
zero point, saturated). An int8 input has 256 values, so a table built here over all of them, with
the function in float64 rounded to float32 and DequantizeLinear/QuantizeLinear as onnxruntime
computes them, gives its results (the tests compare every input with onnxruntime). The table is a
constant and the kernel (kernels.lookup) integer-only; a Relu/Clip after the function clamps the
table. TFLite's LOGISTIC and TANH (int8.activation) are fixed-point approximations with
fixed output scales (1/256, 1/128), which onnxruntime's results do not follow."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from harness.models.frontends.onnx_qdq.context import Context
from harness.models.frontends.onnx_qdq.reader import Node
from harness.models.frontends.onnx_qdq.values import (
    INT8_MAX,
    INT8_MIN,
    OutQuant,
    Pending,
    Quantized,
    quantize_value,
)
from harness.models.int8 import qdq as kernels
from harness.models.int8.emit import const


def _sigmoid(v: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-v))


FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"Sigmoid": _sigmoid, "Tanh": np.tanh}


def lookup_table(function: Callable[[np.ndarray], np.ndarray], in_scale: float, in_zero_point: int,
                 oq: OutQuant) -> np.ndarray:
    """int8[256]: Q(function(DQ(q))) for q = -128..127, clamped to oq's range."""
    q = np.arange(INT8_MIN, INT8_MAX + 1, dtype=np.int64)
    real = (q - in_zero_point).astype(np.float32) * np.float32(in_scale)  # DequantizeLinear, in float32
    y = function(real.astype(np.float64)).astype(np.float32)
    out = [quantize_value(float(v), oq.scale, oq.zero_point) for v in y]
    return np.clip(np.array(out, np.int64), oq.act_min, oq.act_max).astype(np.int8)


def convert_unary(ctx: Context, node: Node) -> Pending:
    x = ctx.activation(node, 0)
    function = FUNCTIONS[node.op_type]

    def build(oq: OutQuant) -> Quantized:
        table = lookup_table(function, x.scale, x.zero_point, oq)
        value = ctx.emit(node, "lookup", kernels.lookup, [x.value, const(table)])
        return Quantized(value, x.shape, oq.scale, oq.zero_point, x.nhwc)

    return Pending(node, x.shape, x.nhwc, build)
