"""The int8 kernels an ONNX QDQ model needs beyond TFLite's. The convolutions, fully connected
layers, ADD, softmax, MaxPool (int8.pool), Concat and Pad (int8.shape) reuse TFLite's
kernels as they are; Mul, ReduceMean and requantization (Relu/Clip, QuantizeLinear into other
parameters, Concat's inputs) reuse TFLite's with `single` rounding (int8.elementwise, int8.quantize,
int8.pool): once, halves to even, as onnxruntime's float requantization rounds, where
TFLite Micro rounds twice (off from onnxruntime by one LSB about once in 500).

- quantize / dequantize: the model's float32 edges (float only there): ONNX's QuantizeLinear
  (round half to even of x / scale, plus the zero point, saturated) and DequantizeLinear
  ((q - zero point) * scale), computed as onnxruntime computes them, so bit for bit; 4-D tensors
  change between ONNX's NCHW and the device's NHWC on the way.
- relayout: Reshape/Flatten (and NCHW <-> NHWC) as an int8 copy.
- average_pool: AveragePool/GlobalAveragePool in int8 with the fixed-point requantization of
  fixedpoint.py, rounded once (`single`), the zero point added after rounding as the unfused graph's
  QuantizeLinear does; TFLite's AVERAGE_POOL_2D divides with its own rounding instead.
- lookup: Sigmoid and Tanh (any elementwise function of one int8 input) through a 256-entry int8
  table built at import time (activation.py): onnxruntime computes them in float between
  DequantizeLinear and QuantizeLinear, which a table over the 256 inputs reproduces exactly; no
  fixed-point approximation (TFLite's LOGISTIC/TANH, int8.activation) would, and those have
  fixed output scales besides.
The scales of the float edges are one-element float32 tensors, not immediates: TVM prints float
immediates in C with 7 significant digits, which does not always give back the same float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tvm import te, tirx

from harness.models.int8 import fixedpoint as fp
from harness.models.int8.family import Family
from harness.models.int8.schedules import elementwise
from harness.models.int8.tensors import Requant, Window, nhwc_shape, pad_nhwc, ravel, window_taps


def _to_logical(idx: Sequence[Any], nhwc: bool) -> tuple[Any, ...]:
    """The ONNX (NCHW) index of a device (storage) index."""
    if not nhwc:
        return tuple(idx)
    n, h, w, c = idx
    return (n, c, h, w)


def _to_storage(idx: Sequence[Any], nhwc: bool) -> tuple[Any, ...]:
    if not nhwc:
        return tuple(idx)
    n, c, h, w = idx
    return (n, h, w, c)


def _storage(shape: Sequence[int], nhwc: bool) -> tuple[int, ...]:
    dims = tuple(int(d) for d in shape)
    return nhwc_shape(dims) if nhwc else dims


def quantize(x: te.Tensor, scale: te.Tensor, *, zero_point: int, nhwc: bool) -> te.Tensor:
    """float32 x (ONNX layout) -> int8 (device layout)."""

    def body(*idx: Any) -> Any:
        v = tirx.nearbyint(x[_to_logical(idx, nhwc)] / scale[0]) + tirx.const(float(zero_point), "float32")
        low, high = tirx.const(-128.0, "float32"), tirx.const(127.0, "float32")
        return tirx.min(tirx.max(v, low), high).astype("int8")

    return te.compute(_storage(x.shape, nhwc), body, name="out")


def dequantize(q: te.Tensor, scale: te.Tensor, *, zero_point: int, shape: Sequence[int],
               nhwc: bool) -> te.Tensor:
    """int8 q (device layout) -> float32 of the ONNX `shape`."""

    def body(*idx: Any) -> Any:
        centered = q[_to_storage(idx, nhwc)].astype("int32") - fp.i32(zero_point)
        return centered.astype("float32") * scale[0]

    return te.compute(tuple(int(d) for d in shape), body, name="out")


def _unravel(flat: Any, shape: Sequence[int]) -> tuple[Any, ...]:
    idx = []
    for d in reversed([int(d) for d in shape]):
        idx.append(flat % d)
        flat = flat // d
    return tuple(reversed(idx))


def relayout(x: te.Tensor, *, in_shape: Sequence[int], in_nhwc: bool, out_shape: Sequence[int],
             out_nhwc: bool) -> te.Tensor:
    """The same elements in ONNX's row-major order, from one (shape, layout) to another."""

    def body(*idx: Any) -> Any:
        flat = ravel(_to_logical(idx, out_nhwc), out_shape)
        return x[_to_storage(_unravel(flat, in_shape), in_nhwc)]

    return te.compute(_storage(out_shape, out_nhwc), body, name="out")


def lookup(x: te.Tensor, table: te.Tensor) -> te.Tensor:
    """table[x + 128] for each int8 x: the table (int8[256]) is the function's value at -128..127."""
    return te.compute(tuple(x.shape), lambda *idx: table[x[idx].astype("int32") + fp.i32(128)], name="out")


def _divide_half_even(total: Any, count: Any, zero_point: int) -> Any:
    """total / count rounded to nearest, halves to even, exactly in integers (count > 0), plus the
    zero point: the unfused graph's QuantizeLinear (nearbyintf(y / y_scale) + y_zero_point) rounds
    before it adds the zero point, so an odd zero point does not decide which way a half goes (the
    fused QLinearAveragePool, which adds it first, is not the reference)."""
    q, r = tirx.floordiv(total, count), tirx.floormod(total, count)
    odd = tirx.floormod(q, 2) == 1
    up = fp.select(r * 2 > count, 1, fp.select(tirx.all(r * 2 == count, odd), 1, 0))
    return q + up + fp.i32(zero_point)


def average_pool(x: te.Tensor, *tables: te.Tensor, win: Window, in_zero_point: int, include_pad: bool,
                 scaling: tuple[int, int] | None, rq: Requant, out_shape: Sequence[int]) -> te.Tensor:
    """AveragePool over NHWC int8 to its own output quantization: the sum of (x - zero point) over
    the window's taps inside the image (padded taps are real zeros), times in_scale / (out_scale *
    count), rounded halves to even, with count the taps inside the image or (include_pad) the
    whole window. `scaling` is that (multiplier, shift) where every window has the same count;
    `tables` are int32 multipliers and shifts indexed by the count where it varies; with neither,
    the scales are equal and the sum is divided by the count exactly."""
    xp = pad_nhwc(x, win.pad, 0)
    (kh, kw), (sh, sw) = win.kernel, win.stride
    rh, rw = te.reduce_axis((0, kh), "rh"), te.reduce_axis((0, kw), "rw")
    acc = te.compute(tuple(out_shape), lambda n, y, z, c: te.sum(
        xp[n, y * sh + rh, z * sw + rw, c].astype("int32"), axis=[rh, rw]), name="acc")
    _, height, width, _ = (int(d) for d in x.shape)

    def body(n: Any, y: Any, z: Any, c: Any) -> Any:
        inside = window_taps(y, sh, win.pad[0], kh, height, out_shape[1]) * window_taps(
            z, sw, win.pad[1], kw, width, out_shape[2])
        centered = acc[n, y, z, c]
        if in_zero_point:
            centered = centered - fp.i32(inside) * fp.i32(in_zero_point)
        if scaling is None and not tables:
            count = fp.i32(kh * kw if include_pad else inside)
            average = _divide_half_even(centered, count, rq.out_zero_point)
            clamped = tirx.min(tirx.max(average, fp.i32(rq.act_min)), fp.i32(rq.act_max))
            return clamped.astype("int8")
        mult, shift = scaling if scaling is not None else (tables[0][inside], tables[1][inside])
        return fp.requantize(centered, mult, shift, rq.out_zero_point, rq.act_min, rq.act_max, single=True)

    return te.compute(tuple(out_shape), body, name="out")


# quantize and dequantize are the quantize family's kinds (quantize.py), with the same schedule.
FAMILY = Family(kernels={"relayout": elementwise, "lookup": elementwise})
