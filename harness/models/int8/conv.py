"""int8 TFLite operators as TE computations, bit-exact with TFLite Micro's reference kernels.

Each op builds its blocks with fixed names, which the default schedules (schedules.py) rely
on: "pad" (input padded with its zero point), "acc" (int32 accumulator), "out" (the int8
result). Accumulation is int32; int64 appears only inside the requantization's doubling
high multiply.

Convolutions use the identity acc = bias' + sum(x * w) with bias' = bias + input_offset *
sum(w) folded at import time, and pad their input with the input zero point, so that padded
taps add nothing: exactly TFLite's "skip taps outside the image".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tvm import te, tirx

from harness.models.tflite import fixedpoint as fp


@dataclass(frozen=True)
class Window:
    """A convolution or pooling window over NHWC: (height, width) pairs; pad is (top, left, bottom, right)."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad: tuple[int, int, int, int]


@dataclass(frozen=True)
class Requant:
    """The int8 epilogue: output zero point, fused activation range, whether any channel's
    shift is positive (a left shift before the high multiply), and whether to round once
    (fixedpoint.requantize's `single`; TFLite Micro rounds twice)."""

    out_zero_point: int
    act_min: int
    act_max: int
    left: bool
    single: bool = False


def pad_nhwc(x: te.Tensor, pad: tuple[int, int, int, int], value: int) -> te.Tensor:
    top, left, bottom, right = pad
    if not any(pad):
        return x
    n, h, w, c = (int(d) for d in x.shape)

    def padded(b: Any, y: Any, z: Any, ch: Any) -> Any:
        inside = tirx.all(y >= top, y < h + top, z >= left, z < w + left)
        return tirx.if_then_else(inside, x[b, y - top, z - left, ch], tirx.const(value, x.dtype))

    return te.compute((n, h + top + bottom, w + left + right, c), padded, name="pad")


def _widen(value: Any) -> Any:
    return value.astype("int32")


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
            _widen(xp[n, y * sh + rh * dh, z * sw + rw * dw, rc]) * _widen(w[c, rh, rw, rc]),
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
            _widen(xp[n, y * sh + rh * dh, z * sw + rw * dw, channel(c)]) * _widen(w[0, rh, rw, c]),
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


def fully_connected(
    x: te.Tensor,
    w: te.Tensor,
    bias: te.Tensor,
    mult: Any,
    shift: Any,
    *,
    rq: Requant,
    out_shape: Sequence[int],
) -> te.Tensor:
    """FULLY_CONNECTED: x read as [batch, K] in row-major order, w [units, K] int8. `mult` and
    `shift` are per-channel int32 tensors, or Python ints for one filter scale."""
    depth = int(w.shape[1])
    k = te.reduce_axis((0, depth), "k")
    acc = te.compute(
        tuple(out_shape),
        lambda b, u: te.sum(_widen(flat_load(x, b * depth + k)) * _widen(w[u, k]), axis=[k]),
        name="acc",
    )

    def epilogue(b: Any, u: Any) -> Any:
        m, s = (mult, shift) if isinstance(mult, int) else (mult[u], shift[u])
        return fp.requantize(
            acc[b, u] + bias[u], m, s, rq.out_zero_point, rq.act_min, rq.act_max, left=rq.left,
            single=rq.single,
        )

    return te.compute(tuple(out_shape), epilogue, name="out")


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
        lambda n, y, z, c: te.sum(_widen(xp[n, y * sh + rh, z * sw + rw, c]), axis=[rh, rw]),
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


def window_taps(o: Any, stride: int, pad: int, kernel: int, size: int, out_size: int) -> Any:
    """How many window taps of output position o fall inside [0, size)."""
    if pad == 0 and (int(out_size) - 1) * stride + kernel <= size:
        return kernel  # every window lies inside the input
    origin = o * stride - pad
    return tirx.min(fp.i32(kernel), size - origin) - tirx.max(fp.i32(0), -origin)


@dataclass(frozen=True)
class AddParams:
    input1_offset: int
    input2_offset: int
    left_shift: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int
    output_offset: int
    act_min: int
    act_max: int


def add(x1: te.Tensor, x2: te.Tensor, *, p: AddParams, out_shape: Sequence[int]) -> te.Tensor:
    """ADD (int8): both inputs offset, shifted left, rescaled to a common scale, summed,
    rescaled to the output; numpy broadcasting between the inputs."""

    def scaled(value: Any, offset: int, mult: int, shift: int) -> Any:
        shifted = fp.shift_left(_widen(value) + fp.i32(offset), p.left_shift)
        return fp.rounding_divide_by_pot(fp.srdhm(shifted, mult), -shift)

    def body(*idx: Any) -> Any:
        a = scaled(x1[broadcast_index(idx, x1.shape)], p.input1_offset, p.input1_multiplier, p.input1_shift)
        b = scaled(x2[broadcast_index(idx, x2.shape)], p.input2_offset, p.input2_multiplier, p.input2_shift)
        raw = fp.rounding_divide_by_pot(fp.srdhm(a + b, p.output_multiplier), -p.output_shift)
        clamped = tirx.min(tirx.max(raw + fp.i32(p.output_offset), fp.i32(p.act_min)), fp.i32(p.act_max))
        return clamped.astype("int8")

    return te.compute(tuple(out_shape), body, name="out")


def broadcast_index(idx: Sequence[Any], shape: Sequence[Any]) -> tuple[Any, ...]:
    """The index into a tensor of `shape` broadcast (numpy rules) to the output index `idx`."""
    dims = [int(d) for d in shape]
    tail = idx[len(idx) - len(dims) :] if dims else ()
    return tuple(0 if d == 1 else i for i, d in zip(tail, dims, strict=True))


def flat_load(x: te.Tensor, flat: Any) -> Any:
    """Element `flat` of x in row-major order."""
    dims = [int(d) for d in x.shape]
    idx = []
    for d in reversed(dims[1:]):
        idx.append(flat % d)
        flat = flat // d
    return x[(flat, *reversed(idx))] if dims else x[()]


def ravel(idx: Sequence[Any], shape: Sequence[int]) -> Any:
    flat: Any = 0
    for i, d in zip(idx, shape, strict=True):
        flat = flat * int(d) + i
    return flat


def reshape(x: te.Tensor, *, out_shape: Sequence[int]) -> te.Tensor:
    """RESHAPE as a copy kernel."""
    shape = tuple(int(d) for d in out_shape)
    return te.compute(shape, lambda *idx: flat_load(x, ravel(idx, shape)), name="out")
