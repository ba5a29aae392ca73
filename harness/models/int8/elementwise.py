"""ADD and MUL (int8), bit-exact with TFLite Micro's reference kernels (reference_integer_ops::Add,
::Mul and BroadcastMul4DSlow): TE compute (one block, "out"; numpy broadcasting), parameters as
CalculateOpDataAdd / CalculateOpDataMul compute them, converters and default schedule. ONNX QDQ
models reuse both; their MUL rounds once (`single`), halves to even, as onnxruntime does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tvm import te, tirx

from harness.errors import ModelError
from harness.models.int8 import fixedpoint as fp
from harness.models.int8.convert import _io, _requant
from harness.models.int8.emit import Context
from harness.models.int8.family import Family
from harness.models.int8.quant import quantize_multiplier, quantize_multiplier_smaller_than_one_exp
from harness.models.int8.schedules import elementwise
from harness.models.int8.tensors import broadcast_index, clamp_int8, widen
from harness.models.int8.tflite_model import Operator, Tensor

ADD_LEFT_SHIFT = 20  # int8 ADD works on inputs shifted left by 20 bits


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
        shifted = fp.shift_left(widen(value) + fp.i32(offset), p.left_shift)
        return fp.rounding_divide_by_pot(fp.srdhm(shifted, mult), -shift)

    def body(*idx: Any) -> Any:
        a = scaled(x1[broadcast_index(idx, x1.shape)], p.input1_offset, p.input1_multiplier, p.input1_shift)
        b = scaled(x2[broadcast_index(idx, x2.shape)], p.input2_offset, p.input2_multiplier, p.input2_shift)
        raw = fp.rounding_divide_by_pot(fp.srdhm(a + b, p.output_multiplier), -p.output_shift)
        clamped = tirx.min(tirx.max(raw + fp.i32(p.output_offset), fp.i32(p.act_min)), fp.i32(p.act_max))
        return clamped.astype("int8")

    return te.compute(tuple(out_shape), body, name="out")


@dataclass(frozen=True)
class MulParams:
    input1_offset: int
    input2_offset: int
    multiplier: int
    shift: int
    output_offset: int
    act_min: int
    act_max: int
    single: bool = False  # round once, halves to even (ONNX QDQ); TFLite Micro rounds twice


def mul(x1: te.Tensor, x2: te.Tensor, *, p: MulParams, out_shape: Sequence[int]) -> te.Tensor:
    """MUL (int8): (x1 - zp1) * (x2 - zp2) rescaled by MultiplyByQuantizedMultiplier, plus the
    output zero point, clamped to the fused activation's range; numpy broadcasting."""

    def body(*idx: Any) -> Any:
        a = x1[broadcast_index(idx, x1.shape)].astype("int32") + fp.i32(p.input1_offset)
        b = x2[broadcast_index(idx, x2.shape)].astype("int32") + fp.i32(p.input2_offset)
        if p.single:
            return fp.requantize(a * b, p.multiplier, p.shift, p.output_offset, p.act_min, p.act_max,
                                 single=True)
        scaled = fp.multiply_by_quantized_multiplier(a * b, p.multiplier, p.shift)
        return clamp_int8(scaled + fp.i32(p.output_offset), p.act_min, p.act_max)

    return te.compute(tuple(out_shape), body, name="out")


def add_params(scale1: float, scale2: float, output_scale: float) -> dict[str, int]:
    """CalculateOpDataAdd for int8: both inputs rescaled to twice the larger input scale,
    after a left shift of 20 bits; the sum rescaled to the output scale."""
    twice_max = 2 * float(max(np.float32(scale1), np.float32(scale2)))
    m1, s1 = quantize_multiplier_smaller_than_one_exp(float(np.float32(scale1)) / twice_max)
    m2, s2 = quantize_multiplier_smaller_than_one_exp(float(np.float32(scale2)) / twice_max)
    mo, so = quantize_multiplier_smaller_than_one_exp(
        twice_max / ((1 << ADD_LEFT_SHIFT) * float(np.float32(output_scale)))
    )
    return {
        "input1_multiplier": m1,
        "input1_shift": s1,
        "input2_multiplier": m2,
        "input2_shift": s2,
        "output_multiplier": mo,
        "output_shift": so,
        "left_shift": ADD_LEFT_SHIFT,
    }


def mul_multiplier(scale1: float, scale2: float, output_scale: float) -> tuple[int, int]:
    """CalculateOpDataMul: QuantizeMultiplier of the double scale1 * scale2 / output_scale."""
    s1, s2, so = (float(np.float32(s)) for s in (scale1, scale2, output_scale))
    return quantize_multiplier(s1 * s2 / so)


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
    q = add_params(a.scale, b.scale, out.scale)
    rq = _requant(op, out, [0])
    p = AddParams(
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
        lambda A, B: add(A, B, p=p, out_shape=out.shape),
        [ctx.value(op, op.inputs[0]), ctx.value(op, op.inputs[1])],
    )


def convert_mul(ctx: Context, op: Operator) -> Any:
    a, b, out = _broadcast_io(ctx, op)
    mult, shift = mul_multiplier(a.scale, b.scale, out.scale)
    rq = _requant(op, out, [shift])
    p = MulParams(-a.zero_point, -b.zero_point, mult, shift, out.zero_point, rq.act_min, rq.act_max)
    return ctx.emit(
        op,
        "mul",
        lambda A, B: mul(A, B, p=p, out_shape=out.shape),
        [ctx.value(op, op.inputs[0]), ctx.value(op, op.inputs[1])],
    )


FAMILY = Family(kernels={"add": elementwise, "mul": elementwise},
                converters={"ADD": convert_add, "MUL": convert_mul})
