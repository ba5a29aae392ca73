"""Concat and Pad (constant mode) on dequantized int8 tensors: TFLite's copy kernels
(int8.shape), after a requantization of whatever does not already have the output's scale
and zero point.

In QDQ form each input is dequantized with its own parameters and the result quantized with the
QuantizeLinear's, so Q(concat(DQ(a), DQ(b))) == concat(requantize(a), requantize(b)): each input
is requantized to the output's parameters (rounded once, halves to even; onnxruntime's
QLinearConcat requantizes through a float table, so within one LSB) and then copied. TFLite
Micro's CONCATENATION refuses inputs quantized differently instead. A Pad's value is the float
constant quantized with the output's parameters (QuantizeLinear, exactly), TFLite's being the
output zero point or PADV2's int8 constant. Constant inputs are requantized at import time as
onnxruntime computes them (DequantizeLinear in float32, then QuantizeLinear), exactly."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.errors import ModelError
from harness.models.frontends.onnx_qdq.context import Context, describe
from harness.models.frontends.onnx_qdq.elementwise import requantize_to
from harness.models.frontends.onnx_qdq.reader import Node
from harness.models.frontends.onnx_qdq.values import (
    NHWC,
    Dequantized,
    OutQuant,
    Pending,
    QConst,
    Quantized,
    quantize_value,
)
from harness.models.int8.emit import const
from harness.models.int8.shape import concatenation, pad
from harness.models.int8.tensors import nhwc_shape


def _storage_axis(axis: int, nhwc: bool) -> int:
    return NHWC.index(axis) if nhwc else axis


def real_constant(node: Node, v: QConst | np.ndarray, what: str) -> np.ndarray:
    """A constant's float32 values: DequantizeLinear of a per-tensor quantized constant (as
    onnxruntime computes it), or a float constant as it is."""
    if isinstance(v, QConst):
        if not v.per_tensor:
            raise ModelError(f"{node.label}: {what} needs one scale, got {v.scales.size}")
        centered = (v.data.astype(np.int64) - int(v.zero_points.flat[0])).astype(np.float32)
        return centered * np.float32(v.scales.flat[0])
    if v.dtype.kind != "f":
        raise ModelError(f"{node.label}: {what} must be float or dequantized, got {v.dtype}")
    return v.astype(np.float32)


def quantize_array(real: np.ndarray, oq: OutQuant) -> np.ndarray:
    """QuantizeLinear of float32 values with oq's parameters, clamped to oq's range."""
    flat = [quantize_value(float(r), oq.scale, oq.zero_point) for r in real.ravel()]
    return np.clip(np.array(flat, np.int64), oq.act_min, oq.act_max).astype(np.int8).reshape(real.shape)


def _input_shape(ctx: Context, node: Node, i: int) -> tuple[int, ...]:
    v = ctx.value(node, i)
    if isinstance(v, Dequantized):
        return v.q.shape
    if isinstance(v, QConst) or (isinstance(v, np.ndarray) and v.dtype.kind == "f"):
        return tuple(int(d) for d in (v.data if isinstance(v, QConst) else v).shape)
    raise ModelError(f"{node.label}: input {node.inputs[i]!r} must be dequantized int8, got {describe(v)}")


def convert_concat(ctx: Context, node: Node) -> Pending | np.ndarray:
    if not node.inputs or "" in node.inputs:
        raise ModelError(f"{node.label}: needs one or more inputs")
    plain = [ctx.value(node, i) for i in range(len(node.inputs))]
    if all(isinstance(v, np.ndarray) and v.dtype.kind in "iu" for v in plain):  # shapes: folded
        try:
            return np.concatenate([np.asarray(v) for v in plain], axis=int(node.attr("axis", 0)))
        except ValueError as exc:
            raise ModelError(f"{node.label}: cannot concatenate its constants: {exc}") from None
    shapes = [_input_shape(ctx, node, i) for i in range(len(node.inputs))]
    rank = len(shapes[0])
    if "axis" not in node.attrs or not -rank <= int(node.attr("axis")) < rank:
        raise ModelError(f"{node.label}: axis {node.attr('axis')} does not fit rank-{rank} inputs")
    axis = int(node.attr("axis")) % rank
    others = [s[:axis] + s[axis + 1:] for s in shapes]
    if any(len(s) != rank for s in shapes) or any(o != others[0] for o in others):
        raise ModelError(f"{node.label}: inputs {[list(s) for s in shapes]} do not concatenate along axis "
                         f"{axis}")
    if not any(isinstance(ctx.value(node, i), Dequantized) for i in range(len(shapes))):
        raise ModelError(f"{node.label}: every input is a constant")
    shape = (*shapes[0][:axis], sum(s[axis] for s in shapes), *shapes[0][axis + 1:])
    # 4-D: NHWC on the device, unless every input is in ONNX's order already (an int8 model input)
    nhwc = rank == 4 and any(isinstance(v, Dequantized) and v.q.nhwc for v in plain)
    storage = nhwc_shape(shape) if nhwc else shape

    def operand(i: int, oq: OutQuant) -> Any:
        v = ctx.value(node, i)
        if isinstance(v, Dequantized):
            return requantize_to(ctx, node, ctx.layout(node, v.q, nhwc), oq).value
        assert isinstance(v, QConst | np.ndarray)
        data = quantize_array(real_constant(node, v, f"constant input {node.inputs[i]!r}"), oq)
        return const(np.ascontiguousarray(data.transpose(NHWC) if nhwc else data))

    def build(oq: OutQuant) -> Quantized:
        args = [operand(i, oq) for i in range(len(shapes))]
        along = _storage_axis(axis, nhwc)
        value = ctx.emit(node, "concatenation", lambda *X: concatenation(
            *X, axis=along, out_shape=storage), args)
        return Quantized(value, shape, oq.scale, oq.zero_point, nhwc)

    return Pending(node, shape, nhwc, build)


def _pads(ctx: Context, node: Node, rank: int) -> list[tuple[int, int]]:
    """(before, after) per axis, from the pads attribute (before opset 11) or the pads and axes inputs."""
    if ctx.graph.opset < 11:
        pads, axes = [int(p) for p in node.attr("pads", [])], list(range(rank))
    else:
        pads = [int(p) for p in ctx.constant(node, 1, "the pads").ravel()]
        given = ctx.value(node, 3)
        axes = list(range(rank)) if given is None else [
            int(a) % rank for a in ctx.constant(node, 3, "the axes").ravel()]
    if len(pads) != 2 * len(axes):
        raise ModelError(f"{node.label}: {len(pads)} pads for {len(axes)} axes")
    if min(pads, default=0) < 0:
        raise ModelError(f"{node.label}: negative pads {pads} (cropping) are not supported")
    pairs = [(0, 0)] * rank
    for k, a in enumerate(axes):
        pairs[a] = (pads[k], pads[k + len(axes)])
    return pairs


def _pad_value(ctx: Context, node: Node) -> float:
    if ctx.graph.opset < 11:
        return float(node.attr("value", 0.0))
    v = ctx.value(node, 2)
    if v is None:
        return 0.0
    if not isinstance(v, QConst | np.ndarray):
        raise ModelError(f"{node.label}: the pad value must be a constant, got {describe(v)}")
    real = real_constant(node, v, "the pad value")
    if real.size != 1:
        raise ModelError(f"{node.label}: the pad value must be one value, got {real.size}")
    return float(real.ravel()[0])


def convert_pad(ctx: Context, node: Node) -> Pending:
    mode = str(node.attr("mode", "constant"))
    if mode != "constant":
        raise ModelError(f"{node.label}: mode {mode!r} is not supported; only 'constant'")
    x = ctx.activation(node, 0)
    pairs = _pads(ctx, node, len(x.shape))
    fill = _pad_value(ctx, node)
    shape = tuple(d + b + a for d, (b, a) in zip(x.shape, pairs, strict=True))
    storage = nhwc_shape(shape) if x.nhwc else shape
    stored = [pairs[a] for a in NHWC] if x.nhwc else pairs

    def build(oq: OutQuant) -> Quantized:
        q = requantize_to(ctx, node, x, oq)
        value_q = int(quantize_array(np.array([fill], np.float32), oq)[0])
        value = ctx.emit(node, "pad", lambda X: pad(X, paddings=stored, value=value_q,
                                                               out_shape=storage), [q.value])
        return Quantized(value, shape, oq.scale, oq.zero_point, x.nhwc)

    return Pending(node, shape, x.nhwc, build)
