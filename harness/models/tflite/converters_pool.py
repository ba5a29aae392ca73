"""MAX_POOL_2D and MEAN: checked, their parameters computed as TFLite Micro's Prepare computes
them, and emitted as ops_pool kernels. They register into converters.CONVERTERS."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.models.compile import ModelError
from harness.models.tflite import quant
from harness.models.tflite.converters import CONVERTERS, _io, _requant, _same_quantization, _window
from harness.models.tflite.importer import Context
from harness.models.tflite.ops_pool import MeanParams, max_pool, mean
from harness.models.tflite.reader import Operator, Tensor

MAX_REDUCED_AXES = 2  # TFLite Micro's MEAN resolves at most two distinct axes (kMaxNumberOfReducedAxis)


def convert_max_pool(ctx: Context, op: Operator) -> Any:
    (x,), out = _io(ctx, op, 1)
    assert x is not None
    _same_quantization(op, x, out)
    kernel = (int(op.options.get("filter_height", 1)), int(op.options.get("filter_width", 1)))
    win = _window(op, x, out, kernel, (1, 1))
    rq = _requant(op, out, [0])
    return ctx.emit(
        op,
        "max_pool",
        lambda X: max_pool(X, win=win, act_min=rq.act_min, act_max=rq.act_max, out_shape=out.shape),
        [ctx.value(op, op.inputs[0])],
    )


def _reduced_axes(op: Operator, axis: Tensor | None, rank: int) -> tuple[int, ...]:
    """The axis operand resolved as TFLite's ResolveAxis does: negatives from the end, duplicates dropped."""
    if axis is None or axis.data is None or axis.type != "INT32" or axis.data.ndim > 1:
        raise ModelError(f"{op.label}: the axes must be a constant INT32 scalar or vector")
    axes: list[int] = []
    for a in (int(v) for v in axis.data.reshape(-1)):
        if not -rank <= a < rank:
            raise ModelError(f"{op.label}: axis {a} is out of range for a rank-{rank} input")
        if a % rank not in axes:
            axes.append(a % rank)
    if not axes or len(axes) > MAX_REDUCED_AXES:
        raise ModelError(
            f"{op.label}: reduces over {len(axes)} axes; TFLite Micro reduces over 1 to {MAX_REDUCED_AXES}"
        )
    return tuple(axes)


def convert_mean(ctx: Context, op: Operator) -> Any:
    (x, axis_t), out = _io(ctx, op, 2)
    assert x is not None
    axes = _reduced_axes(op, axis_t, len(x.shape))
    keep = bool(op.options.get("keep_dims", False))
    expected = tuple(1 if a in axes else d for a, d in enumerate(x.shape) if keep or a not in axes)
    if tuple(out.shape) != expected:
        raise ModelError(
            f"{op.label}: output shape {list(out.shape)} is not {list(expected)} (input {list(x.shape)}, "
            f"axes {list(axes)}, keep_dims {keep})"
        )
    count = int(np.prod([x.shape[a] for a in axes]))
    mult, shift = quant.mean_multiplier(x.scale, out.scale, count)
    p = MeanParams(axes, keep, count, x.zero_point, mult, shift, out.zero_point)
    return ctx.emit(op, "mean", lambda X: mean(X, p=p, out_shape=out.shape), [ctx.value(op, op.inputs[0])])


CONVERTERS.update({"MAX_POOL_2D": convert_max_pool, "MEAN": convert_mean})
