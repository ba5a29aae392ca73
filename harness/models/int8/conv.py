"""CONV_2D and DEPTHWISE_CONV_2D (int8), bit-exact with TFLite Micro's reference kernels: TE compute,
parameters (per-channel multipliers and shifts, the bias with the input zero point folded in),
converter and default schedule.

Blocks "pad" (input padded with its zero point), "acc" (int32 accumulator), "out" (the int8
result), as accumulate_then_requantize expects. The identity acc = bias' + sum(x * w) with
bias' = bias + input_offset * sum(w) folded at import time, and padding with the input zero
point, make padded taps add nothing: exactly TFLite's "skip taps outside the image".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from tvm import te

from harness.errors import ModelError
from harness.models.int8 import fixedpoint as fp
from harness.models.int8 import quant
from harness.models.int8.convert import _bias, _constant, _filter_scales, _io, _requant, _window
from harness.models.int8.emit import Context, const
from harness.models.int8.family import Family
from harness.models.int8.schedules import accumulate_then_requantize
from harness.models.int8.tensors import Requant, Window, pad_nhwc, widen
from harness.models.int8.tflite_model import Operator


def conv2d(
    x: te.Tensor,
    w: te.Tensor,
    bias: te.Tensor,
    mult: te.Tensor,
    shift: te.Tensor,
    *,
    win: Window,
    in_zero_point: int,
    rq: Requant,
    out_shape: Sequence[int],
) -> te.Tensor:
    """CONV_2D: x NHWC int8, w OHWI int8 (per-channel scales), bias' int32 per output channel."""
    xp = pad_nhwc(x, win.pad, in_zero_point)
    _, kh, kw, ic = (int(d) for d in w.shape)
    (sh, sw), (dh, dw) = win.stride, win.dilation
    rh, rw, rc = te.reduce_axis((0, kh), "rh"), te.reduce_axis((0, kw), "rw"), te.reduce_axis((0, ic), "rc")
    acc = te.compute(
        tuple(out_shape),
        lambda n, y, z, c: te.sum(
            widen(xp[n, y * sh + rh * dh, z * sw + rw * dw, rc]) * widen(w[c, rh, rw, rc]),
            axis=[rh, rw, rc],
        ),
        name="acc",
    )
    return _requant_nhwc(acc, bias, mult, shift, rq)


def depthwise_conv2d(
    x: te.Tensor,
    w: te.Tensor,
    bias: te.Tensor,
    mult: te.Tensor,
    shift: te.Tensor,
    *,
    win: Window,
    depth_multiplier: int,
    in_zero_point: int,
    rq: Requant,
    out_shape: Sequence[int],
) -> te.Tensor:
    """DEPTHWISE_CONV_2D: w is [1, KH, KW, C * depth_multiplier]; output channel c reads input
    channel c // depth_multiplier."""
    xp = pad_nhwc(x, win.pad, in_zero_point)
    _, kh, kw, _ = (int(d) for d in w.shape)
    (sh, sw), (dh, dw) = win.stride, win.dilation
    rh, rw = te.reduce_axis((0, kh), "rh"), te.reduce_axis((0, kw), "rw")

    def channel(c: Any) -> Any:
        return c if depth_multiplier == 1 else c // depth_multiplier

    acc = te.compute(
        tuple(out_shape),
        lambda n, y, z, c: te.sum(
            widen(xp[n, y * sh + rh * dh, z * sw + rw * dw, channel(c)]) * widen(w[0, rh, rw, c]),
            axis=[rh, rw],
        ),
        name="acc",
    )
    return _requant_nhwc(acc, bias, mult, shift, rq)


def _requant_nhwc(
    acc: te.Tensor, bias: te.Tensor, mult: te.Tensor, shift: te.Tensor, rq: Requant
) -> te.Tensor:
    return te.compute(
        acc.shape,
        lambda n, y, z, c: fp.requantize(
            acc[n, y, z, c] + bias[c],
            mult[c],
            shift[c],
            rq.out_zero_point,
            rq.act_min,
            rq.act_max,
            left=rq.left,
            single=rq.single,
        ),
        name="out",
    )


def _convolution(op: Operator, x: Any, w_t: Any, b_t: Any, out: Any, w: np.ndarray, *,
                 channel_axis: int) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, Any]:
    """What CONV_2D (filter OHWI) and DEPTHWISE_CONV_2D (filter 1HWO) share: the window, the bias with
    the input zero point folded in (over the filter's taps), per-channel multipliers and shifts, and
    the requantization; output channels lie along the filter's `channel_axis`."""
    kh, kw, oc = w.shape[1], w.shape[2], w.shape[channel_axis]
    dil = (int(op.options.get("dilation_h_factor", 1)), int(op.options.get("dilation_w_factor", 1)))
    win = _window(op, x, out, (kh, kw), dil)
    mult, shift = quant.per_channel_multipliers(
        x.scale, _filter_scales(op, w_t, channel_axis, oc), out.scale, oc)
    taps = tuple(a for a in range(4) if a != channel_axis)
    bias = quant.fold_bias(_bias(op, b_t, oc), w.astype(np.int64).sum(axis=taps), x.zero_point)
    return win, bias, mult, shift, _requant(op, out, shift)


def convert_conv2d(ctx: Context, op: Operator) -> Any:
    (x, w_t, b_t), out = _io(ctx, op, 3)
    assert x is not None
    w = _constant(op, w_t, "the filter", "INT8", 4)
    ic = w.shape[3]
    if x.shape[-1] != ic:
        raise ModelError(
            f"{op.label}: grouped convolution ({x.shape[-1]} input channels, filter depth {ic}) "
            "is not supported"
        )
    win, bias, mult, shift, rq = _convolution(op, x, w_t, b_t, out, w, channel_axis=0)
    return ctx.emit(
        op,
        "conv2d",
        lambda X, W, B, M, S: conv2d(
            X, W, B, M, S, win=win, in_zero_point=x.zero_point, rq=rq, out_shape=out.shape
        ),
        [ctx.value(op, op.inputs[0]), const(w), const(bias), const(mult), const(shift)],
    )


def convert_depthwise_conv2d(ctx: Context, op: Operator) -> Any:
    (x, w_t, b_t), out = _io(ctx, op, 3)
    assert x is not None
    w = _constant(op, w_t, "the filter", "INT8", 4)
    oc = w.shape[3]
    dm = int(op.options.get("depth_multiplier", 1)) or 1
    if w.shape[0] != 1 or oc != x.shape[-1] * dm or out.shape[-1] != oc:
        raise ModelError(
            f"{op.label}: filter {list(w.shape)} does not match {x.shape[-1]} input channels times "
            f"depth multiplier {dm}"
        )
    win, bias, mult, shift, rq = _convolution(op, x, w_t, b_t, out, w, channel_axis=3)
    return ctx.emit(
        op,
        "depthwise_conv2d",
        lambda X, W, B, M, S: depthwise_conv2d(
            X,
            W,
            B,
            M,
            S,
            win=win,
            depth_multiplier=dm,
            in_zero_point=x.zero_point,
            rq=rq,
            out_shape=out.shape,
        ),
        [ctx.value(op, op.inputs[0]), const(w), const(bias), const(mult), const(shift)],
    )


FAMILY = Family(
    kernels={"conv2d": accumulate_then_requantize, "depthwise_conv2d": accumulate_then_requantize},
    converters={"CONV_2D": convert_conv2d, "DEPTHWISE_CONV_2D": convert_depthwise_conv2d},
)
