"""MAX_POOL_2D and MEAN (int8) as TE computations, bit-exact with TFLite Micro's reference kernels
(reference_integer_ops::MaxPool; reference_ops::QuantizedMeanOrSum). ONNX QDQ models reuse both
(harness.models.onnx_qdq): MaxPool as it is (with ONNX's dilations; TFLite's windows have none),
ReduceMean with MeanParams.single, which rounds once, halves to even, as onnxruntime's float
QuantizeLinear does, where TFLite Micro rounds twice.

Blocks, as the default schedule (accumulate_then_requantize) expects: "pad" (max pooling only,
the input padded with -128), "acc" (the window's maximum, or the int32 sum over the reduced
axes) and "out" (the int8 result).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tvm import te, tirx

from harness.models.tflite import fixedpoint as fp
from harness.models.tflite.ops import Window, pad_nhwc


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
