"""AVERAGE_POOL_2D, MAX_POOL_2D and MEAN (int8), bit-exact with TFLite Micro's reference kernels
(reference_integer_ops::AveragePool and ::MaxPool; reference_ops::QuantizedMeanOrSum): TE compute,
parameters, converters and default schedule. ONNX QDQ models reuse MAX_POOL as it is (with
ONNX's dilations; TFLite's windows have none) and MEAN with MeanParams.single, which rounds
once, halves to even, as onnxruntime's float QuantizeLinear does, where TFLite Micro rounds twice.

Blocks, as accumulate_then_requantize expects: "pad" (the input padded: 0 for the average,
-128 for the maximum), "acc" (the window's sum or maximum, or the int32 sum over the reduced
axes) and "out" (the int8 result).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tvm import te, tirx

from harness.errors import ModelError
from harness.models.int8 import fixedpoint as fp
from harness.models.int8.convert import _io, _requant, _window
from harness.models.int8.emit import Context
from harness.models.int8.family import Family
from harness.models.int8.quant import scale_ratio_multiplier
from harness.models.int8.schedules import accumulate_then_requantize
from harness.models.int8.tensors import Window, pad_nhwc, widen, window_taps
from harness.models.int8.tflite_model import Operator, Tensor


def average_pool(
    x: te.Tensor, *, win: Window, act_min: int, act_max: int, out_shape: Sequence[int]
) -> te.Tensor:
    """AVERAGE_POOL_2D (input and output share scale and zero point): the sum of the taps inside
    the image, divided by their count rounding halves away from zero, clamped."""
    xp = pad_nhwc(x, win.pad, 0)  # padded taps add 0 and are left out of the count
    (kh, kw), (sh, sw) = win.kernel, win.stride
    rh, rw = te.reduce_axis((0, kh), "rh"), te.reduce_axis((0, kw), "rw")
    acc = te.compute(
        tuple(out_shape),
        lambda n, y, z, c: te.sum(widen(xp[n, y * sh + rh, z * sw + rw, c]), axis=[rh, rw]),
        name="acc",
    )
    _, height, width, _ = (int(d) for d in x.shape)

    def average(n: Any, y: Any, z: Any, c: Any) -> Any:
        count = window_taps(y, sh, win.pad[0], kh, height, out_shape[1]) * window_taps(
            z, sw, win.pad[1], kw, width, out_shape[2]
        )
        total = acc[n, y, z, c]
        half = count // 2 if isinstance(count, int) else count >> 1
        rounded = fp.select(total > 0, tirx.truncdiv(total + half, count), tirx.truncdiv(total - half, count))
        return tirx.min(tirx.max(rounded, fp.i32(act_min)), fp.i32(act_max)).astype("int8")

    return te.compute(tuple(out_shape), average, name="out")


def max_pool(x: te.Tensor, *, win: Window, act_min: int, act_max: int, out_shape: Sequence[int]) -> te.Tensor:
    """MAX_POOL_2D: the largest tap of the window inside the image, clamped to the activation
    range. Taps outside the image read -128, int8's lowest, which TFLite starts its maximum
    from: they never change the result."""
    xp = pad_nhwc(x, win.pad, -128)
    (kh, kw), (sh, sw) = win.kernel, win.stride
    rh, rw = te.reduce_axis((0, kh), "rh"), te.reduce_axis((0, kw), "rw")
    if kh * kw == 1:  # one tap, no reduction: TVM's C printer reused a stale `acc` read after the
        # update of a reduction whose loops were of extent one (an output of -128)
        acc = te.compute(tuple(out_shape), lambda n, y, z, c: xp[n, y * sh, z * sw, c], name="acc")
    else:
        acc = te.compute(
            tuple(out_shape),
            lambda n, y, z, c: te.max(xp[n, y * sh + rh, z * sw + rw, c], axis=[rh, rw]),
            name="acc",
        )
    lo, hi = tirx.const(act_min, "int8"), tirx.const(act_max, "int8")
    return te.compute(tuple(out_shape), lambda *i: tirx.min(tirx.max(acc[i], lo), hi), name="out")


@dataclass(frozen=True)
class MeanParams:
    """MEAN's reduction (resolved, distinct axes) and QuantizedMeanOrSum's epilogue: (sum - input
    zero point * count) times multiplier * 2^shift (the 1 / count folded in), plus the output zero
    point, clamped. TFLite Micro takes this path for every int8 MEAN, equal input and output
    quantization included. ONNX's ReduceMean (QDQ) clamps to a fused Relu/Clip's range and rounds
    once (`single`, fixedpoint.requantize)."""

    axes: tuple[int, ...]
    keep_dims: bool
    count: int
    in_zero_point: int
    multiplier: int
    shift: int
    out_zero_point: int
    act_min: int = -128
    act_max: int = 127
    single: bool = False


def mean(x: te.Tensor, *, p: MeanParams, out_shape: Sequence[int]) -> te.Tensor:
    """MEAN (int8) over p.axes; the output keeps them as 1s when p.keep_dims."""
    dims = [int(d) for d in x.shape]
    reduce = {a: te.reduce_axis((0, dims[a]), f"r{a}") for a in p.axes}

    def source(out_idx: Sequence[Any]) -> list[Any]:
        kept = iter(out_idx if not p.keep_dims else [])
        idx = []
        for a in range(len(dims)):
            if a in reduce:
                idx.append(reduce[a])
            else:
                idx.append(out_idx[a] if p.keep_dims else next(kept))
        return idx

    acc = te.compute(
        tuple(out_shape),
        lambda *o: te.sum(x[tuple(source(o))].astype("int32"), axis=list(reduce.values())),
        name="acc",
    )

    def epilogue(*o: Any) -> Any:
        shifted = acc[o] - fp.i32(p.in_zero_point * p.count)
        if p.single:
            return fp.requantize(shifted, p.multiplier, p.shift, p.out_zero_point, p.act_min, p.act_max,
                                 single=True)
        scaled = fp.multiply_by_quantized_multiplier(shifted, p.multiplier, p.shift) + fp.i32(
            p.out_zero_point
        )
        return tirx.min(tirx.max(scaled, fp.i32(-128)), fp.i32(127)).astype("int8")

    return te.compute(tuple(out_shape), epilogue, name="out")


def mean_multiplier(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """QuantizedMeanOrSum's rescaling by 1 / count folded into the input/output multiplier: shift
    by floor(log2(count)) (at most 32, and at most 31 + shift), divide the multiplier by count."""
    mult, shift = scale_ratio_multiplier(input_scale, output_scale)
    up = min(count.bit_length() - 1, 32, 31 + shift)
    return (mult << up) // count, shift - up


def _same_quantization(op: Operator, x: Tensor, out: Tensor) -> None:
    """Pooling in TFLite Micro moves values, it does not requantize them."""
    if abs(x.scale - out.scale) > 1e-6 or x.zero_point != out.zero_point:
        raise ModelError(f"{op.label}: input and output quantization differ; TFLite Micro needs them equal")


def _convert_pool(ctx: Context, op: Operator, kind: str, compute: Any) -> Any:
    """AVERAGE_POOL_2D and MAX_POOL_2D: same checks and window, `compute` (average_pool or max_pool)."""
    (x,), out = _io(ctx, op, 1)
    assert x is not None
    _same_quantization(op, x, out)
    kernel = (int(op.options.get("filter_height", 1)), int(op.options.get("filter_width", 1)))
    win = _window(op, x, out, kernel, (1, 1))
    rq = _requant(op, out, [0])
    return ctx.emit(
        op,
        kind,
        lambda X: compute(X, win=win, act_min=rq.act_min, act_max=rq.act_max, out_shape=out.shape),
        [ctx.value(op, op.inputs[0])],
    )


def convert_average_pool(ctx: Context, op: Operator) -> Any:
    return _convert_pool(ctx, op, "average_pool", average_pool)


def convert_max_pool(ctx: Context, op: Operator) -> Any:
    return _convert_pool(ctx, op, "max_pool", max_pool)


def _reduced_axes(op: Operator, axis: Tensor | None, rank: int) -> tuple[int, ...]:
    """The axis operand resolved as TFLite's ResolveAxis does: negatives from the end, duplicates dropped.
    Any number of them: TFLite Micro's MEAN sums over 3, 4 or 5 axes as over 1 or 2 (QuantizedMeanOrSum),
    and so does `mean`."""
    if axis is None or axis.data is None or axis.type != "INT32" or axis.data.ndim > 1:
        raise ModelError(f"{op.label}: the axes must be a constant INT32 scalar or vector")
    axes: list[int] = []
    for a in (int(v) for v in axis.data.reshape(-1)):
        if not -rank <= a < rank:
            raise ModelError(f"{op.label}: axis {a} is out of range for a rank-{rank} input")
        if a % rank not in axes:
            axes.append(a % rank)
    if not axes:
        raise ModelError(f"{op.label}: reduces over no axis")
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
    mult, shift = mean_multiplier(x.scale, out.scale, count)
    p = MeanParams(axes, keep, count, x.zero_point, mult, shift, out.zero_point)
    return ctx.emit(op, "mean", lambda X: mean(X, p=p, out_shape=out.shape), [ctx.value(op, op.inputs[0])])


FAMILY = Family(
    kernels={"average_pool": accumulate_then_requantize, "max_pool": accumulate_then_requantize,
             "mean": accumulate_then_requantize},
    converters={"AVERAGE_POOL_2D": convert_average_pool, "MAX_POOL_2D": convert_max_pool,
                "MEAN": convert_mean},
)
