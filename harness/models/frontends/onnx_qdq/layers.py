"""Conv (plain and depthwise), Gemm and MatMul on a dequantized int8 activation and dequantized int8
weights (zero point 0, one scale or one per output channel), with an optional int32 bias: TFLite's
int8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED kernels (harness.models.int8.conv), their
requantization to the scale of the QuantizeLinear that follows (quant.per_channel_multipliers)."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.errors import ModelError
from harness.models.frontends.onnx_qdq.context import Context, describe
from harness.models.frontends.onnx_qdq.reader import Node
from harness.models.frontends.onnx_qdq.values import OutQuant, Pending, QConst, Quantized
from harness.models.frontends.onnx_qdq.window import window
from harness.models.int8 import quant
from harness.models.int8.conv import conv2d, depthwise_conv2d
from harness.models.int8.emit import const
from harness.models.int8.fully_connected import fully_connected
from harness.models.int8.tensors import Requant


def _weights(ctx: Context, node: Node, i: int, rank: int, channel_axis: int,
             channels: int) -> tuple[np.ndarray, np.ndarray]:
    """The int8 weights and one float32 scale per output channel."""
    w = ctx.quantized_constant(node, i, "the weights")
    if w.data.dtype != np.int8 or w.data.ndim != rank:
        raise ModelError(f"{node.label}: the weights must be int8 of rank {rank}, got {w.data.dtype} of "
                         f"shape {list(w.data.shape)}")
    if np.any(w.zero_points != 0):
        raise ModelError(f"{node.label}: the weights need zero point 0 (symmetric int8), got "
                         f"{sorted(set(w.zero_points.ravel().tolist()))[:4]}")
    if w.per_tensor:
        return w.data, np.full(channels, w.scales.flat[0], np.float32)
    if w.axis % rank != channel_axis or w.scales.size != channels:
        raise ModelError(f"{node.label}: the weights need one scale, or one per output channel along axis "
                         f"{channel_axis} ({channels}); got {w.scales.size} along axis {w.axis}")
    return w.data, w.scales.astype(np.float32).ravel()


def _bias(ctx: Context, node: Node, i: int, in_scale: float, w_scales: np.ndarray) -> np.ndarray:
    """The bias in units of in_scale * w_scale (int64, one per channel): an int32 constant dequantized
    with that scale (as quantizers write it) is taken as it is; another scale, or a float
    constant, is rounded to it."""
    channels = w_scales.size
    v = ctx.value(node, i)
    if v is None:
        return np.zeros(channels, np.int64)
    unit = np.float32(in_scale) * w_scales.astype(np.float32)
    if isinstance(v, QConst):
        data, scales = v.data.astype(np.int64), np.broadcast_to(v.scales.astype(np.float32).ravel(),
                                                                 (channels,))
        if v.data.dtype.kind != "i" or np.any(v.zero_points != 0):
            raise ModelError(f"{node.label}: the bias must be integer with zero point 0")
        if data.size != channels:
            raise ModelError(f"{node.label}: the bias has {data.size} values for {channels} channels")
        data = data.ravel()
        if np.allclose(scales, unit, rtol=1e-6, atol=0.0):
            return data
        real = data * scales.astype(np.float64)
    elif isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.size == channels:
        real = v.astype(np.float64).ravel()
    else:
        raise ModelError(f"{node.label}: the bias must be a dequantized int32 or a float constant of "
                         f"{channels} values, got {describe(v)}")
    return np.clip(np.rint(real / unit.astype(np.float64)), -(2**31), 2**31 - 1).astype(np.int64)


def _requant(oq: OutQuant, shifts: Any) -> Requant:
    return Requant(oq.zero_point, oq.act_min, oq.act_max, left=bool(np.any(np.asarray(shifts) > 0)),
                       single=True)


def convert_conv(ctx: Context, node: Node) -> Pending:
    x = ctx.activation(node, 0)
    if len(x.shape) != 4:
        raise ModelError(f"{node.label}: only 2-D convolutions (a 4-D NCHW input) are supported")
    n, channels, height, width = x.shape
    weights = ctx.quantized_constant(node, 1, "the weights").data
    if weights.ndim != 4:
        raise ModelError(f"{node.label}: the weights must be 4-D, got shape {list(weights.shape)}")
    oc, group_depth, kh, kw = weights.shape
    w, w_scales = _weights(ctx, node, 1, 4, 0, oc)
    if [int(k) for k in node.attr("kernel_shape", [kh, kw])] != [kh, kw]:
        raise ModelError(f"{node.label}: kernel_shape {node.attr('kernel_shape')} is not the weights' "
                         f"{kh}x{kw}")
    group = int(node.attr("group", 1))
    depthwise = group == channels and group > 1 and group_depth == 1 and oc % channels == 0
    if not depthwise and (group != 1 or group_depth != channels):
        raise ModelError(f"{node.label}: grouped convolution (group {group}, {channels} input channels, "
                         f"weights {list(weights.shape)}) is not supported; only plain and depthwise")
    win, (oh, ow) = window(node, (height, width), (kh, kw))
    bias = _bias(ctx, node, 2, x.scale, w_scales)
    if depthwise:  # [OC, 1, KH, KW] -> [1, KH, KW, OC]
        kernel, kind, taps = w[:, 0].transpose(1, 2, 0)[None], "depthwise_conv2d", (0, 1, 2)
    else:  # OIHW -> OHWI
        kernel, kind, taps = w.transpose(0, 2, 3, 1), "conv2d", (1, 2, 3)
    kernel = np.ascontiguousarray(kernel)
    folded = quant.fold_bias(bias, kernel.astype(np.int64).sum(axis=taps), x.zero_point)
    storage = (n, oh, ow, oc)

    def build(oq: OutQuant) -> Quantized:
        xin = ctx.layout(node, x, True)
        mult, shift = quant.per_channel_multipliers(x.scale, w_scales, oq.scale, oc)
        rq = _requant(oq, shift)

        def compute(X: Any, W: Any, B: Any, M: Any, S: Any) -> Any:
            if depthwise:
                return depthwise_conv2d(X, W, B, M, S, win=win, depth_multiplier=oc // channels,
                                            in_zero_point=x.zero_point, rq=rq, out_shape=storage)
            return conv2d(X, W, B, M, S, win=win, in_zero_point=x.zero_point, rq=rq, out_shape=storage)

        args = [xin.value, const(kernel), const(folded), const(mult), const(shift)]
        value = ctx.emit(node, kind, compute, args)
        return Quantized(value, (n, oc, oh, ow), oq.scale, oq.zero_point, nhwc=True)

    return Pending(node, (n, oc, oh, ow), True, build)


def _fully_connected(ctx: Context, node: Node, x: Quantized, w: np.ndarray, w_scales: np.ndarray,
                     per_tensor: bool, bias: np.ndarray) -> Pending:
    """x [batch, K] times w [units, K] transposed, plus bias."""
    units, depth = w.shape
    if len(x.shape) != 2 or x.shape[1] != depth:
        raise ModelError(f"{node.label}: input of shape {list(x.shape)} does not match weights of depth "
                         f"{depth} (only 2-D inputs are supported)")
    folded = quant.fold_bias(bias, w.astype(np.int64).sum(axis=1), x.zero_point)
    out_shape = (x.shape[0], units)

    def build(oq: OutQuant) -> Quantized:
        args = [ctx.layout(node, x, False).value, const(np.ascontiguousarray(w)), const(folded)]
        if per_tensor:  # one multiplier for the tensor: baked into the kernel
            m, s = quant.per_tensor_multiplier(x.scale, float(w_scales[0]), oq.scale)
            rq = _requant(oq, [s])
            value = ctx.emit(node, "fully_connected", lambda X, W, B: fully_connected(
                X, W, B, m, s, rq=rq, out_shape=out_shape), args)
        else:
            mult, shift = quant.per_channel_multipliers(x.scale, w_scales, oq.scale, units)
            rq = _requant(oq, shift)
            value = ctx.emit(node, "fully_connected", lambda X, W, B, M, S: fully_connected(
                X, W, B, M, S, rq=rq, out_shape=out_shape), [*args, const(mult), const(shift)])
        return Quantized(value, out_shape, oq.scale, oq.zero_point)

    return Pending(node, out_shape, False, build)


def convert_gemm(ctx: Context, node: Node) -> Pending:
    scaled = float(node.attr("alpha", 1.0)) != 1.0 or float(node.attr("beta", 1.0)) != 1.0
    if int(node.attr("transA", 0)) or scaled:
        raise ModelError(f"{node.label}: only transA=0, alpha=1 and beta=1 are supported")
    x = ctx.activation(node, 0)
    trans_b = bool(int(node.attr("transB", 0)))
    b = ctx.quantized_constant(node, 1, "the weights").data
    if b.ndim != 2:
        raise ModelError(f"{node.label}: the weights must be 2-D, got shape {list(b.shape)}")
    units = b.shape[0] if trans_b else b.shape[1]
    w, w_scales = _weights(ctx, node, 1, 2, 0 if trans_b else 1, units)
    per_tensor = ctx.quantized_constant(node, 1, "the weights").per_tensor
    bias = _bias(ctx, node, 2, x.scale, w_scales)
    return _fully_connected(ctx, node, x, w if trans_b else w.T, w_scales, per_tensor, bias)


def convert_matmul(ctx: Context, node: Node) -> Pending:
    x = ctx.activation(node, 0)
    b = ctx.quantized_constant(node, 1, "the weights (second input)").data
    if b.ndim != 2:
        raise ModelError(f"{node.label}: the weights must be 2-D, got shape {list(b.shape)}")
    w, w_scales = _weights(ctx, node, 1, 2, 1, b.shape[1])
    per_tensor = ctx.quantized_constant(node, 1, "the weights").per_tensor
    return _fully_connected(ctx, node, x, w.T, w_scales, per_tensor, np.zeros(b.shape[1], np.int64))
