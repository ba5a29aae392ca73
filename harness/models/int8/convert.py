"""What the TFLite converters share: an operator's inputs and output, constant operands (filters,
biases, paddings), TFLite's padding arithmetic, the convolution and pooling window, the fused
activation's int8 epilogue, the filter's scales."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.errors import ModelError
from harness.models.int8 import quant
from harness.models.int8.emit import Context
from harness.models.int8.tensors import Requant, Window
from harness.models.int8.tflite_model import Operator, Tensor

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
) -> Window:
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
    return Window(kernel, stride, dilation, (top, left, bottom, right))


def _requant(op: Operator, out: Tensor, shifts: Any) -> Requant:
    lo, hi = quant.activation_range(
        int(op.options.get("fused_activation_function", 0)), out.scale, out.zero_point
    )
    return Requant(out.zero_point, lo, hi, left=bool(np.any(np.asarray(shifts) > 0)))


def _filter_scales(op: Operator, w: Tensor, dim: int, channels: int) -> np.ndarray:
    q = w.quant
    if q is None or not (q.per_tensor or (len(q.scales) == channels and q.dim == dim)):
        raise ModelError(f"{op.label}: the filter needs one scale or one per output channel along axis {dim}")
    return q.scales
