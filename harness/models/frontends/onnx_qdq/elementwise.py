"""Add, Mul, Relu, Clip and Softmax on dequantized int8 tensors, and the operators that only move
int8 data (Reshape, Flatten, Squeeze, Unsqueeze, Identity).

Add is TFLite's int8 ADD, Mul TFLite's int8 MUL rounded once (see int8/qdq.py), Softmax TFLite's
int8 softmax requantized to the QuantizeLinear's scale;
Relu and Clip fold into the clamp of the kernel before them, or (after a DequantizeLinear) become a
requantization with that clamp."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from harness.errors import ModelError
from harness.models.frontends.onnx_qdq.context import Context, describe
from harness.models.frontends.onnx_qdq.reader import Node
from harness.models.frontends.onnx_qdq.values import Dequantized, OutQuant, Pending, QConst, Quantized
from harness.models.int8 import qdq as kernels
from harness.models.int8 import quant
from harness.models.int8.elementwise import AddParams, MulParams, add, add_params, mul
from harness.models.int8.quantize import requantize
from harness.models.int8.softmax import PROBABILITY_BITS, softmax, softmax_scaling
from harness.models.int8.tensors import nhwc_shape


def requantize_to(ctx: Context, node: Node, q: Quantized, oq: OutQuant) -> Quantized:
    """q in the scale and zero point of oq, clamped to oq's range (a copy only where that changes
    something)."""
    same = np.float32(q.scale) == np.float32(oq.scale) and q.zero_point == oq.zero_point
    if same and (oq.act_min, oq.act_max) == (-128, 127):
        return q
    m, s = quant.quantize_multiplier(float(np.float32(q.scale)) / float(np.float32(oq.scale)))
    value = ctx.emit(node, "requantize", lambda X: requantize(
        X, in_zero_point=q.zero_point, multiplier=m, shift=s, out_zero_point=oq.zero_point,
        clamp=(oq.act_min, oq.act_max), single=True), [q.value])
    return Quantized(value, q.shape, oq.scale, oq.zero_point, q.nhwc)


def _shape(ctx: Context, node: Node, i: int) -> tuple[int, ...]:
    v = ctx.value(node, i)
    if isinstance(v, Dequantized):
        return v.q.shape
    if isinstance(v, QConst):
        return tuple(v.data.shape)
    raise ModelError(f"{node.label}: input {node.inputs[i]!r} must be dequantized int8, got {describe(v)}")


def _binary(ctx: Context, node: Node, kind: str) -> Pending:
    shapes = [_shape(ctx, node, 0), _shape(ctx, node, 1)]
    if not any(isinstance(ctx.value(node, i), Dequantized) for i in (0, 1)):
        raise ModelError(f"{node.label}: both inputs are constants")
    try:
        shape = tuple(int(d) for d in np.broadcast_shapes(*shapes))
    except ValueError:
        raise ModelError(f"{node.label}: inputs {[list(s) for s in shapes]} do not broadcast") from None
    nhwc = len(shape) == 4
    storage = nhwc_shape(shape) if nhwc else shape

    def build(oq: OutQuant) -> Quantized:
        a, b = (ctx.operand(node, i, nhwc, len(shape)) for i in (0, 1))
        if kind == "add":
            q = add_params(a.scale, b.scale, oq.scale)
            p = AddParams(-a.zero_point, -b.zero_point, q["left_shift"], q["input1_multiplier"],
                              q["input1_shift"], q["input2_multiplier"], q["input2_shift"],
                              q["output_multiplier"], q["output_shift"], oq.zero_point, oq.act_min,
                              oq.act_max)
            value = ctx.emit(node, "add", lambda A, B: add(A, B, p=p, out_shape=storage),
                             [a.value, b.value])
        else:
            real = float(np.float32(a.scale)) * float(np.float32(b.scale)) / float(np.float32(oq.scale))
            m, s = quant.quantize_multiplier(real)
            pm = MulParams(-a.zero_point, -b.zero_point, m, s, oq.zero_point, oq.act_min,
                                           oq.act_max, single=True)
            value = ctx.emit(node, "mul", lambda A, B: mul(A, B, p=pm, out_shape=storage),
                             [a.value, b.value])
        return Quantized(value, shape, oq.scale, oq.zero_point, nhwc)

    return Pending(node, shape, nhwc, build)


def convert_add(ctx: Context, node: Node) -> Pending:
    return _binary(ctx, node, "add")


def convert_mul(ctx: Context, node: Node) -> Pending:
    return _binary(ctx, node, "mul")


def _bound(ctx: Context, node: Node, i: int, attr: str, default: float) -> float:
    if ctx.graph.opset < 11:
        return float(node.attr(attr, default))
    v = ctx.value(node, i)
    if v is None:
        return default
    if not isinstance(v, np.ndarray) or v.size != 1 or v.dtype.kind != "f":
        raise ModelError(f"{node.label}: the {attr} bound must be a float constant, got {describe(v)}")
    return float(v.ravel()[0])


def _clamp(ctx: Context, node: Node, low: float, high: float) -> Pending:
    v = ctx.value(node, 0)
    if isinstance(v, Pending):  # fused into the kernel before
        return dataclasses.replace(v, low=max(v.low, low), high=min(v.high, high))
    if isinstance(v, Dequantized):
        q = v.q
        return Pending(node, q.shape, q.nhwc, lambda oq: requantize_to(ctx, node, q, oq), low, high)
    raise ModelError(f"{node.label}: input {node.inputs[0]!r} must be dequantized int8 or the result of a "
                     f"quantized operator, got {describe(v)}")


def convert_relu(ctx: Context, node: Node) -> Pending:
    return _clamp(ctx, node, 0.0, math.inf)


def convert_clip(ctx: Context, node: Node) -> Pending:
    return _clamp(ctx, node, _bound(ctx, node, 1, "min", -math.inf), _bound(ctx, node, 2, "max", math.inf))


def convert_softmax(ctx: Context, node: Node) -> Pending:
    x = ctx.activation(node, 0)
    rank = len(x.shape)
    axis = int(node.attr("axis", -1 if ctx.graph.opset >= 13 else 1))
    if axis % rank != rank - 1:
        raise ModelError(f"{node.label}: only a softmax over the last axis is supported (axis {axis})")

    def build(oq: OutQuant) -> Quantized:
        if (oq.act_min, oq.act_max) != (-128, 127):
            raise ModelError(f"{node.label}: a Relu or Clip after the softmax is not supported")
        mult, left_shift, diff_min = softmax_scaling(1.0, x.scale)
        out = quant.quantize_multiplier(2.0**-PROBABILITY_BITS / float(np.float32(oq.scale)))
        value = ctx.emit(node, "softmax", lambda X: softmax(
            X, multiplier=mult, left_shift=left_shift, diff_min=diff_min, requant=(*out, oq.zero_point)),
            [ctx.layout(node, x, False).value])
        return Quantized(value, x.shape, oq.scale, oq.zero_point)

    return Pending(node, x.shape, False, build)


def _move(ctx: Context, node: Node, x: Quantized, shape: tuple[int, ...]) -> Dequantized:
    """x with another shape (same elements in ONNX's order): a copy unless nothing moves."""
    if int(np.prod(shape)) != int(np.prod(x.shape)) or min(shape, default=1) < 1:
        raise ModelError(f"{node.label}: cannot reshape {list(x.shape)} to {list(shape)}")
    nhwc = len(shape) == 4
    if shape == x.shape and nhwc == x.nhwc:
        return Dequantized(x)
    value = ctx.emit(node, "relayout", lambda X: kernels.relayout(
        X, in_shape=x.shape, in_nhwc=x.nhwc, out_shape=shape, out_nhwc=nhwc), [x.value])
    return Dequantized(Quantized(value, shape, x.scale, x.zero_point, nhwc))


def convert_reshape(ctx: Context, node: Node) -> Dequantized:
    x = ctx.activation(node, 0)
    target = [int(d) for d in ctx.constant(node, 1, "the shape").ravel()]
    if not node.attr("allowzero", 0):
        target = [x.shape[i] if d == 0 and i < len(x.shape) else d for i, d in enumerate(target)]
    if target.count(-1) == 1:
        known = int(np.prod([d for d in target if d != -1]))
        target[target.index(-1)] = int(np.prod(x.shape)) // max(known, 1)
    return _move(ctx, node, x, tuple(target))


def convert_flatten(ctx: Context, node: Node) -> Dequantized:
    x = ctx.activation(node, 0)
    axis = int(node.attr("axis", 1)) % (len(x.shape) + 1)
    return _move(ctx, node, x, (int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis:]))))


def _axes(ctx: Context, node: Node) -> list[int] | None:
    """The axes of a Squeeze or Unsqueeze (an attribute before opset 13, an input since)."""
    axes: Any = node.attr("axes") if ctx.graph.opset < 13 else ctx.value(node, 1)
    if axes is None:
        return None
    if not isinstance(axes, np.ndarray | list):
        raise ModelError(f"{node.label}: the axes must be a constant, got {describe(axes)}")
    return [int(a) for a in np.asarray(axes).ravel()]


def convert_squeeze(ctx: Context, node: Node) -> Dequantized:
    x = ctx.activation(node, 0)
    axes = _axes(ctx, node)
    ones = {i for i, d in enumerate(x.shape) if d == 1}
    drop = {a % len(x.shape) for a in axes} if axes is not None else ones
    return _move(ctx, node, x, tuple(d for i, d in enumerate(x.shape) if i not in drop))


def convert_unsqueeze(ctx: Context, node: Node) -> Dequantized:
    x = ctx.activation(node, 0)
    axes = _axes(ctx, node)
    if not axes:
        raise ModelError(f"{node.label}: no axes to insert")
    shape = list(x.shape)
    for a in sorted(a % (len(x.shape) + len(axes)) for a in axes):
        shape.insert(a, 1)
    return _move(ctx, node, x, tuple(shape))


def convert_identity(ctx: Context, node: Node) -> Any:
    return ctx.value(node, 0)
