"""MaxPool, AveragePool, GlobalAveragePool and ReduceMean on a dequantized int8 activation (NHWC on
the device where it is 4-D).

MaxPool commutes with dequantization (the scale is positive), so it runs on the int8 data and its
result is still dequantized with the input's parameters. An average takes the scale and zero
point of the QuantizeLinear that follows: sum(x - zero point) * in_scale / (out_scale * count),
with the count of taps inside the image (count_include_pad=0) or the whole window."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.errors import ModelError
from harness.models.frontends.onnx_qdq.context import Context, describe
from harness.models.frontends.onnx_qdq.reader import Node
from harness.models.frontends.onnx_qdq.values import NHWC, Dequantized, OutQuant, Pending, Quantized
from harness.models.frontends.onnx_qdq.window import window
from harness.models.int8 import qdq as kernels
from harness.models.int8 import quant
from harness.models.int8.emit import const
from harness.models.int8.pool import MeanParams, max_pool, mean
from harness.models.int8.tensors import Requant, Window


def _input(ctx: Context, node: Node) -> Quantized:
    x = ctx.activation(node, 0)
    if len(x.shape) != 4:
        raise ModelError(f"{node.label}: only 2-D pooling (a 4-D NCHW input) is supported")
    if len(node.outputs) > 1 and node.outputs[1]:
        raise ModelError(f"{node.label}: the Indices output is not supported")
    return x


def _kernel(node: Node) -> tuple[int, int]:
    kernel = [int(k) for k in node.attr("kernel_shape", [])]
    if len(kernel) != 2:
        raise ModelError(f"{node.label}: kernel_shape {kernel} is not 2-D")
    return kernel[0], kernel[1]


def convert_max_pool(ctx: Context, node: Node) -> Dequantized:
    x = _input(ctx, node)
    n, c, h, w = x.shape
    win, (oh, ow) = window(node, (h, w), _kernel(node), ceil_mode=bool(node.attr("ceil_mode", 0)))
    xin = ctx.layout(node, x, True)
    value = ctx.emit(node, "max_pool", lambda X: max_pool(X, win=win, act_min=-128, act_max=127,
                                                                    out_shape=(n, oh, ow, c)), [xin.value])
    return Dequantized(Quantized(value, (n, c, oh, ow), x.scale, x.zero_point, nhwc=True))


def convert_average_pool(ctx: Context, node: Node) -> Pending:
    x = _input(ctx, node)
    kernel = _kernel(node)
    win, out = window(node, x.shape[2:], kernel, ceil_mode=bool(node.attr("ceil_mode", 0)))
    if win.dilation != (1, 1):
        raise ModelError(f"{node.label}: dilated average pooling is not supported")
    if node.attr("ceil_mode", 0) and out != window(node, x.shape[2:], kernel)[1]:
        raise ModelError(f"{node.label}: ceil_mode windows past the padding are not supported")
    return _average(ctx, node, x, win, out, bool(node.attr("count_include_pad", 0)))


def convert_global_average_pool(ctx: Context, node: Node) -> Pending:
    x = _input(ctx, node)
    h, w = x.shape[2:]
    return _average(ctx, node, x, Window((h, w), (1, 1), (1, 1), (0, 0, 0, 0)), (1, 1), False)


def _average(ctx: Context, node: Node, x: Quantized, win: Window, out: tuple[int, int],
             include_pad: bool) -> Pending:
    n, c = x.shape[:2]
    shape, storage = (n, c, *out), (n, *out, c)
    taps = win.kernel[0] * win.kernel[1]

    def build(oq: OutQuant) -> Quantized:
        xin = ctx.layout(node, x, True)
        same = np.float32(x.scale) == np.float32(oq.scale)  # divide exactly, in integers
        ratio = float(np.float32(x.scale)) / float(np.float32(oq.scale))
        pairs = [quant.quantize_multiplier(ratio / count) for count in range(1, taps + 1)]
        constant = include_pad or not any(win.pad)
        shifts = [s for _, s in (pairs[-1:] if constant else pairs)]
        rq = Requant(oq.zero_point, oq.act_min, oq.act_max, left=any(s > 0 for s in shifts), single=True)
        tables = [] if same or constant else [const(np.array([0, *(m for m, _ in pairs)], np.int32)),
                                              const(np.array([0, *(s for _, s in pairs)], np.int32))]
        scaling = pairs[-1] if constant and not same else None

        def compute(X: Any, *T: Any) -> Any:
            return kernels.average_pool(X, *T, win=win, in_zero_point=x.zero_point, include_pad=include_pad,
                                        scaling=scaling, rq=rq, out_shape=storage)

        value = ctx.emit(node, "average_pool", compute, [xin.value, *tables])
        return Quantized(value, shape, oq.scale, oq.zero_point, nhwc=True)

    return Pending(node, shape, True, build)


def _reduce_axes(ctx: Context, node: Node, rank: int) -> tuple[int, ...] | None:
    """ReduceMean's axes (an attribute before opset 18, an input since), resolved and sorted;
    every axis where none are given, None where noop_with_empty_axes keeps the input as it is."""
    given: Any = node.attr("axes") if ctx.graph.opset < 18 else ctx.value(node, 1)
    if given is not None and not isinstance(given, np.ndarray | list):
        raise ModelError(f"{node.label}: the axes must be a constant, got {describe(given)}")
    axes = [int(a) for a in np.asarray(given if given is not None else [], np.int64).ravel()]
    if not axes:
        return None if node.attr("noop_with_empty_axes", 0) else tuple(range(rank))
    if any(not -rank <= a < rank for a in axes):
        raise ModelError(f"{node.label}: axes {axes} do not fit a rank-{rank} input")
    return tuple(sorted({a % rank for a in axes}))


def convert_reduce_mean(ctx: Context, node: Node) -> Dequantized | Pending:
    """TFLite's MEAN kernel rounded once (MeanParams.single): the sum of (x - zero point) over the
    axes times in_scale / (out_scale * count), where TFLite Micro folds 1 / count into its
    multiplier and rounds twice. onnxruntime averages in float and quantizes: within one LSB."""
    x = ctx.activation(node, 0)
    rank = len(x.shape)
    axes = _reduce_axes(ctx, node, rank)
    if axes is None:
        return Dequantized(x)
    keep = bool(node.attr("keepdims", 1))
    shape = tuple(1 if a in axes else d for a, d in enumerate(x.shape) if keep or a not in axes)
    order = NHWC if x.nhwc else tuple(range(rank))
    # reduce in the device's NHWC where the result's order allows (4-D kept, or no kept axis moves)
    kept = [a for a in range(rank) if a not in axes]
    nhwc = x.nhwc and (keep or [a for a in order if a not in axes] == kept)
    stored_axes = tuple(sorted(NHWC.index(a) for a in axes)) if nhwc else axes
    storage = tuple(shape[a] for a in NHWC) if nhwc and keep else shape
    count = int(np.prod([x.shape[a] for a in axes]))

    def build(oq: OutQuant) -> Quantized:
        xin = ctx.layout(node, x, nhwc)
        ratio = float(np.float32(x.scale)) / (float(np.float32(oq.scale)) * count)
        mult, shift = quant.quantize_multiplier(ratio)
        p = MeanParams(stored_axes, keep, count, x.zero_point, mult, shift, oq.zero_point,
                                oq.act_min, oq.act_max, single=True)
        value = ctx.emit(node, "mean", lambda X: mean(X, p=p, out_shape=storage), [xin.value])
        return Quantized(value, shape, oq.scale, oq.zero_point, nhwc and keep)

    return Pending(node, shape, nhwc and keep, build)
