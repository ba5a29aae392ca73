"""What the int8 kernels' TE computations share: the window of a convolution or pooling, the int8
epilogue's parameters (Requant), padding with a value, the int32 widening, the taps of a window
inside the image, broadcasting, row-major indexing and the clamp to int8."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tvm import te, tirx

from harness.models.int8 import fixedpoint as fp


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


def widen(value: Any) -> Any:
    return value.astype("int32")


def clamp_int8(value: Any, lo: int = -128, hi: int = 127) -> Any:
    return tirx.min(tirx.max(value, fp.i32(lo)), fp.i32(hi)).astype("int8")


def window_taps(o: Any, stride: int, pad: int, kernel: int, size: int, out_size: int) -> Any:
    """How many window taps of output position o fall inside [0, size)."""
    if pad == 0 and (int(out_size) - 1) * stride + kernel <= size:
        return kernel  # every window lies inside the input
    origin = o * stride - pad
    return tirx.min(fp.i32(kernel), size - origin) - tirx.max(fp.i32(0), -origin)


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


def nhwc_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The device's (NHWC) shape of an ONNX NCHW shape."""
    n, c, h, w = shape
    return (n, h, w, c)
