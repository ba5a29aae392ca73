"""One converter per supported TFLite operator: check the operator, compute its fixed-point
parameters (quant), and emit its int8 kernel (ops) through the import Context."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from harness.models.compile import ModelError
from harness.models.tflite import ops, quant
from harness.models.tflite.importer import Context, const
from harness.models.tflite.ops_softmax import softmax
from harness.models.tflite.reader import Operator, Tensor

SAME, VALID = 0, 1


def _io(ctx: Context, op: Operator, n_in: int) -> tuple[list[Tensor | None], Tensor]:
    """The operator's first n_in inputs (None where omitted) and its single output."""
    if len(op.outputs) != 1 or len(op.inputs) < 1:
        raise ModelError(f"{op.label} has {len(op.inputs)} inputs and {len(op.outputs)} outputs")
    ins = [ctx.tensor(i) if i >= 0 else None for i in (*op.inputs, *[-1] * n_in)[:n_in]]
    return ins, ctx.tensor(op.outputs[0])


def _constant(op: Operator, t: Tensor | None, what: str, ttype: str, rank: int) -> np.ndarray:
    if t is None or t.data is None or t.type != ttype or len(t.shape) != rank:
        got = (
            "nothing"
            if t is None
            else f"{'a constant' if t.data is not None else 'an activation'} {t.type} "
            f"of shape {list(t.shape)}"
        )
        raise ModelError(f"{op.label}: {what} must be a constant {ttype} tensor of rank {rank}, got {got}")
    return t.data


def _bias(op: Operator, t: Tensor | None, channels: int) -> np.ndarray:
    if t is None:
        return np.zeros(channels, np.int64)
    data = _constant(op, t, "the bias", "INT32", 1)
    if data.shape != (channels,):
        raise ModelError(f"{op.label}: bias has {data.shape[0]} values for {channels} output channels")
    return data.astype(np.int64)


def _padding(
    op: Operator, code: int, size: int, kernel: int, stride: int, dilation: int, out_size: int
) -> tuple[int, int]:
    """TFLite's ComputePaddingHeightWidth along one axis: (before, after)."""
    effective = (kernel - 1) * dilation + 1
    expected = (size + stride - 1) // stride if code == SAME else (size + stride - effective) // stride
    if code not in (SAME, VALID) or expected != out_size:
        raise ModelError(
            f"{op.label}: output size {out_size} does not match padding {code} (expected {expected})"
        )
    total = max((out_size - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _window(
    op: Operator, x: Tensor, out: Tensor, kernel: tuple[int, int], dilation: tuple[int, int]
) -> ops.Window:
    o = op.options
    stride = (int(o.get("stride_h", 1)), int(o.get("stride_w", 1)))
    if len(x.shape) != 4 or len(out.shape) != 4 or min(*stride, *dilation) < 1:
        raise ModelError(f"{op.label} needs 4-D NHWC tensors and positive strides")
    top, bottom = _padding(
        op, o.get("padding", VALID), x.shape[1], kernel[0], stride[0], dilation[0], out.shape[1]
    )
    left, right = _padding(
        op, o.get("padding", VALID), x.shape[2], kernel[1], stride[1], dilation[1], out.shape[2]
    )
    return ops.Window(kernel, stride, dilation, (top, left, bottom, right))


def _requant(op: Operator, out: Tensor, shifts: Any) -> ops.Requant:
    lo, hi = quant.activation_range(
        int(op.options.get("fused_activation_function", 0)), out.scale, out.zero_point
    )
    return ops.Requant(out.zero_point, lo, hi, left=bool(np.any(np.asarray(shifts) > 0)))


def _filter_scales(op: Operator, w: Tensor, dim: int, channels: int) -> np.ndarray:
    q = w.quant
    if q is None or not (q.per_tensor or (len(q.scales) == channels and q.dim == dim)):
        raise ModelError(f"{op.label}: the filter needs one scale or one per output channel along axis {dim}")
    return q.scales


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
        lambda X, W, B, M, S: ops.conv2d(
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
        lambda X, W, B, M, S: ops.depthwise_conv2d(
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


def convert_fully_connected(ctx: Context, op: Operator) -> Any:
    (x, w_t, b_t), out = _io(ctx, op, 3)
    assert x is not None
    w = _constant(op, w_t, "the weights", "INT8", 2)
    units, depth = w.shape
    size = int(np.prod(x.shape))
    if size % depth or tuple(out.shape) != (size // depth, units):
        raise ModelError(
            f"{op.label}: input {list(x.shape)} and weights {list(w.shape)} do not give output "
            f"{list(out.shape)} (only 2-D outputs are supported)"
        )
    scales = _filter_scales(op, w_t, 0, units)
    assert w_t is not None and w_t.quant is not None
    if np.any(w_t.quant.zero_points != 0):
        raise ModelError(
            f"{op.label}: the weights have a nonzero zero point; TFLite Micro needs symmetric weights"
        )
    bias = const(quant.fold_bias(_bias(op, b_t, units), w.astype(np.int64).sum(axis=1), x.zero_point))
    args = [ctx.value(op, op.inputs[0]), const(w), bias]
    if len(scales) == 1:  # one multiplier for the tensor: baked into the kernel
        m, s = quant.per_tensor_multiplier(x.scale, float(scales[0]), out.scale)
        rq = _requant(op, out, [s])
        return ctx.emit(
            op,
            "fully_connected",
            lambda X, W, B: ops.fully_connected(X, W, B, m, s, rq=rq, out_shape=out.shape),
            args,
        )
    mult, shift = quant.per_channel_multipliers(x.scale, scales, out.scale, units)
    rq = _requant(op, out, shift)
    return ctx.emit(
        op,
        "fully_connected",
        lambda X, W, B, M, S: ops.fully_connected(X, W, B, M, S, rq=rq, out_shape=out.shape),
        [*args, const(mult), const(shift)],
    )


def _same_quantization(op: Operator, x: Tensor, out: Tensor) -> None:
    """Pooling in TFLite Micro moves values, it does not requantize them."""
    if abs(x.scale - out.scale) > 1e-6 or x.zero_point != out.zero_point:
        raise ModelError(f"{op.label}: input and output quantization differ; TFLite Micro needs them equal")


def convert_average_pool(ctx: Context, op: Operator) -> Any:
    (x,), out = _io(ctx, op, 1)
    assert x is not None
    _same_quantization(op, x, out)
    kernel = (int(op.options.get("filter_height", 1)), int(op.options.get("filter_width", 1)))
    win = _window(op, x, out, kernel, (1, 1))
    rq = _requant(op, out, [0])
    return ctx.emit(
        op,
        "average_pool",
        lambda X: ops.average_pool(X, win=win, act_min=rq.act_min, act_max=rq.act_max, out_shape=out.shape),
        [ctx.value(op, op.inputs[0])],
    )


def _broadcast_io(ctx: Context, op: Operator) -> tuple[Tensor, Tensor, Tensor]:
    """A binary elementwise operator's two inputs and output; the inputs must broadcast to it."""
    (a, b), out = _io(ctx, op, 2)
    assert a is not None and b is not None
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        shape = None
    if shape != tuple(out.shape):
        raise ModelError(
            f"{op.label}: inputs {list(a.shape)} and {list(b.shape)} do not broadcast to {list(out.shape)}"
        )
    return a, b, out


def convert_add(ctx: Context, op: Operator) -> Any:
    a, b, out = _broadcast_io(ctx, op)
    q = quant.add_params(a.scale, b.scale, out.scale)
    rq = _requant(op, out, [0])
    p = ops.AddParams(
        -a.zero_point,
        -b.zero_point,
        q["left_shift"],
        q["input1_multiplier"],
        q["input1_shift"],
        q["input2_multiplier"],
        q["input2_shift"],
        q["output_multiplier"],
        q["output_shift"],
        out.zero_point,
        rq.act_min,
        rq.act_max,
    )
    return ctx.emit(
        op,
        "add",
        lambda A, B: ops.add(A, B, p=p, out_shape=out.shape),
        [ctx.value(op, op.inputs[0]), ctx.value(op, op.inputs[1])],
    )


def convert_reshape(ctx: Context, op: Operator) -> Any:
    (x,), out = _io(ctx, op, 1)
    assert x is not None
    if int(np.prod(x.shape)) != int(np.prod(out.shape)):
        raise ModelError(f"{op.label}: cannot reshape {list(x.shape)} to {list(out.shape)}")
    return ctx.emit(
        op, "reshape", lambda X: ops.reshape(X, out_shape=out.shape), [ctx.value(op, op.inputs[0])]
    )


def convert_softmax(ctx: Context, op: Operator) -> Any:
    (x,), out = _io(ctx, op, 1)
    assert x is not None
    if (
        out.zero_point != -128
        or np.float32(out.scale) != np.float32(1.0 / 256)
        or tuple(out.shape) != x.shape
    ):
        raise ModelError(
            f"{op.label}: an int8 softmax output needs scale 1/256 and zero point -128 (TFLite Micro)"
        )
    mult, left_shift, diff_min = quant.softmax_scaling(float(op.options.get("beta", 1.0)), x.scale)
    return ctx.emit(
        op,
        "softmax",
        lambda X: softmax(X, multiplier=mult, left_shift=left_shift, diff_min=diff_min),
        [ctx.value(op, op.inputs[0])],
    )


CONVERTERS: dict[str, Callable[[Context, Operator], Any]] = {
    "CONV_2D": convert_conv2d,
    "DEPTHWISE_CONV_2D": convert_depthwise_conv2d,
    "FULLY_CONNECTED": convert_fully_connected,
    "AVERAGE_POOL_2D": convert_average_pool,
    "ADD": convert_add,
    "RESHAPE": convert_reshape,
    "SOFTMAX": convert_softmax,
}

# The other operators' converters live in their own modules, which import this one's helpers and
# register themselves into CONVERTERS (whichever module is imported first, the registry ends up whole).
from harness.models.tflite import (  # noqa: E402, F401
    converters_elementwise,
    converters_pool,
    converters_shape,
)
