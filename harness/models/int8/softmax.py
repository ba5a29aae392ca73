"""SOFTMAX int8 -> int8 as TFLite Micro computes it (reference_ops::Softmax<int8_t, int8_t>).

Per row: the input minus the row's maximum, rescaled to Q5.26 by the beta multiplier, through
gemmlowp's exp_on_negative_values; the sum of the exponentials in Q12.19; its reciprocal by
one_over_one_plus_x_for_x_in_0_1 (GetReciprocal); each exponential times the reciprocal,
rounded down to 8 bits. Differences below diff_min give exactly -128 (their exponential is
stored as 0, which the arithmetic maps to -128 and leaves out of the sum).

With `requant` (an ONNX QDQ softmax, whose output quantization is the model's choice), the last
step keeps 23 fractional bits of the probability instead of 8 and requantizes that to the
output's scale and zero point (rounding once).

Here too: its scaling (PreprocessSoftmaxScaling), converter and default schedule (softmax_rows).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tvm import te, tirx

from harness.errors import ModelError
from harness.models.int8 import fixedpoint as fp
from harness.models.int8.convert import _io
from harness.models.int8.emit import Context
from harness.models.int8.family import Family
from harness.models.int8.quant import INT32_MAX, input_radius, quantize_multiplier_greater_than_one
from harness.models.int8.schedules import Schedule
from harness.models.int8.tflite_model import Operator

ACCUM_INTEGER_BITS = 12  # Q12.19 sum of exponentials


DIFF_INTEGER_BITS = 5  # Q5.26 scaled input differences


OUTPUT_BITS = 8


PROBABILITY_BITS = 23  # fractional bits of the probability before a `requant`


SOFTMAX_DIFF_INTEGER_BITS = 5  # Q5.26 input to exp() in TFLite's int8 softmax


def softmax(x: te.Tensor, *, multiplier: int, left_shift: int, diff_min: int,
            requant: tuple[int, int, int] | None = None) -> te.Tensor:
    """Blocks: max, exp, sum, clz, recip (per row) and out; rows are all axes but the last.
    `requant` = (multiplier, shift, zero point) of 2^-23 / output scale: the output is
    round(probability / scale) + zero point instead of TFLite's probability * 256 - 128."""
    shape = tuple(int(d) for d in x.shape)
    rows, depth = shape[:-1] or (1,), shape[-1]

    def row(idx: tuple[Any, ...]) -> tuple[Any, ...]:
        return idx if shape[:-1] else (0,)

    def elem(r: tuple[Any, ...], c: Any) -> Any:
        return x[(*r, c)] if shape[:-1] else x[c]

    c1 = te.reduce_axis((0, depth), "c")
    row_max = te.compute(rows, lambda *r: te.max(elem(r, c1), axis=[c1]), name="max")

    def exponential(*idx: Any) -> Any:
        r, c = idx[:-1], idx[-1]
        diff = elem(r, c).astype("int32") - row_max[r].astype("int32")
        scaled = fp.srdhm(
            fp.shift_left_bits(diff, left_shift), multiplier
        )  # MultiplyByQuantizedMultiplierGreaterThanOne
        return fp.select(diff >= fp.i32(diff_min), fp.exp_on_negative_values(scaled, DIFF_INTEGER_BITS), 0)

    exps = te.compute((*rows, depth), exponential, name="exp")
    c2 = te.reduce_axis((0, depth), "c")
    total = te.compute(
        rows,
        lambda *r: te.sum(fp.rounding_divide_by_pot(exps[(*r, c2)], ACCUM_INTEGER_BITS), axis=[c2]),
        name="sum",
    )
    clz = te.compute(rows, lambda *r: fp.count_leading_zeros(total[r]), name="clz")
    recip = te.compute(rows, lambda *r: _reciprocal(total[r], clz[r]), name="recip")

    def output(*idx: Any) -> Any:
        r = row(idx[:-1])
        bits = OUTPUT_BITS if requant is None else PROBABILITY_BITS
        exponent = fp.i32(ACCUM_INTEGER_BITS + 31 - bits) - clz[r]  # num_bits_over_unit + 31 - bits
        unsat = fp.rounding_divide_by_pot(fp.srdhm(recip[r], exps[(*r, idx[-1])]), exponent)
        if requant is not None:
            mult, shift, zero_point = requant
            return fp.requantize(unsat, mult, shift, zero_point, -128, 127, single=True)
        return tirx.min(tirx.max(unsat - fp.i32(128), fp.i32(-128)), fp.i32(127)).astype("int8")

    return te.compute(shape, output, name="out")


def _reciprocal(total: Any, headroom_plus_one: Any) -> Any:
    """GetReciprocal's fixed-point part: 1 / (total << headroom_plus_one as Q0.31 - 1 + 1).
    total > 0 (the row maximum contributes exp(0)), so total << (headroom_plus_one - 1) lies in
    [2^30, 2^31) and the Q0.31 value minus one is computed without leaving int32."""
    normalized = fp.shift_left_bits(total, fp.shift_amount(headroom_plus_one - fp.i32(1)))
    minus_one = fp.shift_left_bits(normalized - fp.i32(1 << 30), 1)
    return fp.one_over_one_plus_x_for_x_in_0_1(minus_one)


def softmax_scaling(
    beta: float, input_scale: float, integer_bits: int = SOFTMAX_DIFF_INTEGER_BITS
) -> tuple[int, int, int]:
    """PreprocessSoftmaxScaling and CalculateInputRadius: (multiplier, left shift, diff_min)."""
    real = min(
        float(np.float32(beta)) * float(np.float32(input_scale)) * (1 << (31 - integer_bits)),
        float(INT32_MAX),
    )
    mult, left_shift = quantize_multiplier_greater_than_one(real)
    diff_min = -input_radius(integer_bits, left_shift)
    return mult, left_shift, diff_min


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
    mult, left_shift, diff_min = softmax_scaling(float(op.options.get("beta", 1.0)), x.scale)
    return ctx.emit(
        op,
        "softmax",
        lambda X: softmax(X, multiplier=mult, left_shift=left_shift, diff_min=diff_min),
        [ctx.value(op, op.inputs[0])],
    )


def softmax_rows(sch: Schedule) -> Schedule:
    """Blocks max -> exp -> sum -> clz -> recip -> out: every per-row stage under out's row
    loop, so the intermediates shrink to one row."""
    out = sch.get_sblock("out")
    loops = sch.get_loops(out)
    if len(loops) < 2:
        return sch
    for name in ("recip", "clz", "sum", "exp", "max"):
        sch.compute_at(sch.get_sblock(name), loops[-2])
    return sch


FAMILY = Family(kernels={"softmax": softmax_rows}, converters={"SOFTMAX": convert_softmax})
