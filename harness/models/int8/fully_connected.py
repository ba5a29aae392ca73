"""FULLY_CONNECTED (int8), bit-exact with TFLite Micro: TE compute (blocks "acc", "out"), the
per-tensor or per-channel multipliers, converter and default schedule (dot_product)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from tvm import te

from harness.errors import ModelError
from harness.models.int8 import fixedpoint as fp
from harness.models.int8 import quant
from harness.models.int8.convert import _bias, _constant, _filter_scales, _io, _requant
from harness.models.int8.emit import Context, const
from harness.models.int8.family import Family
from harness.models.int8.schedules import Schedule, accumulate_then_requantize
from harness.models.int8.tensors import Requant, flat_load, widen
from harness.models.int8.tflite_model import Operator


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
        lambda b, u: te.sum(widen(flat_load(x, b * depth + k)) * widen(w[u, k]), axis=[k]),
        name="acc",
    )

    def epilogue(b: Any, u: Any) -> Any:
        m, s = (mult, shift) if isinstance(mult, int) else (mult[u], shift[u])
        return fp.requantize(
            acc[b, u] + bias[u], m, s, rq.out_zero_point, rq.act_min, rq.act_max, left=rq.left,
            single=rq.single,
        )

    return te.compute(tuple(out_shape), epilogue, name="out")


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
            lambda X, W, B: fully_connected(X, W, B, m, s, rq=rq, out_shape=out.shape),
            args,
        )
    mult, shift = quant.per_channel_multipliers(x.scale, scales, out.scale, units)
    rq = _requant(op, out, shift)
    return ctx.emit(
        op,
        "fully_connected",
        lambda X, W, B, M, S: fully_connected(X, W, B, M, S, rq=rq, out_shape=out.shape),
        [*args, const(mult), const(shift)],
    )


def dot_product(sch: Schedule) -> Schedule:
    """FULLY_CONNECTED: as accumulate_then_requantize, with the dot product's loop unrolled by four
    (ad01, all FC layers, on a Cortex-M4: 1.38 M -> 0.99 M instructions; the loop's own compare and
    branch were a fifth of the work)."""
    acc = sch.get_sblock("acc")  # the update block after decompose_reduction
    accumulate_then_requantize(sch)
    inner = sch.get_loops(acc)[-1]
    extent = sch.get(inner).extent
    if int(extent) % 4 == 0 and int(extent) > 4:
        _, four = sch.split(inner, [None, 4])
        sch.unroll(four)
    return sch


FAMILY = Family(kernels={"fully_connected": dot_product},
                converters={"FULLY_CONNECTED": convert_fully_connected})
