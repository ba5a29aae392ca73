"""RESHAPE, TRANSPOSE, CONCATENATION and PAD/PADV2 (int8) as TE copy kernels, as TFLite Micro runs
them: its int8 transpose and concatenation copy the bytes (concatenation requires every input to share
the output's scale and zero point), and its pad writes one int8 pad value (the output zero point, or
PADV2's constant).
One block each, "out"; the loads sit under if_then_else, which, unlike Select, never reads the
branch it does not take.

Here too: their converters (checked as TFLite Micro's Prepare checks them) and default schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from tvm import te, tirx

from harness.errors import ModelError
from harness.models.int8.convert import _constant, _io
from harness.models.int8.emit import Context
from harness.models.int8.family import Family
from harness.models.int8.schedules import elementwise
from harness.models.int8.tensors import flat_load, ravel
from harness.models.int8.tflite_model import Operator, Tensor


def reshape(x: te.Tensor, *, out_shape: Sequence[int]) -> te.Tensor:
    """RESHAPE as a copy kernel."""
    shape = tuple(int(d) for d in out_shape)
    return te.compute(shape, lambda *idx: flat_load(x, ravel(idx, shape)), name="out")


def transpose(x: te.Tensor, *, perm: Sequence[int]) -> te.Tensor:
    """Output dimension i is input dimension perm[i]."""
    shape = tuple(int(x.shape[p]) for p in perm)

    def body(*idx: Any) -> Any:
        source = [0] * len(perm)
        for i, p in enumerate(perm):
            source[p] = idx[i]
        return x[tuple(source)]

    return te.compute(shape, body, name="out")


def concatenation(*xs: te.Tensor, axis: int, out_shape: Sequence[int]) -> te.Tensor:
    """The inputs one after the other along `axis` (all other dimensions equal)."""
    ends = []
    total = 0
    for x in xs:
        total += int(x.shape[axis])
        ends.append(total)

    def body(*idx: Any) -> Any:
        def load(k: int) -> Any:
            start = ends[k] - int(xs[k].shape[axis])
            return xs[k][(*idx[:axis], idx[axis] - start, *idx[axis + 1 :])]

        value = load(len(xs) - 1)
        for k in range(len(xs) - 2, -1, -1):
            value = tirx.if_then_else(idx[axis] < ends[k], load(k), value)
        return value

    return te.compute(tuple(int(d) for d in out_shape), body, name="out")


def pad(
    x: te.Tensor, *, paddings: Sequence[tuple[int, int]], value: int, out_shape: Sequence[int]
) -> te.Tensor:
    """x surrounded by `value`: paddings holds (before, after) per dimension."""
    dims = [int(d) for d in x.shape]

    def body(*idx: Any) -> Any:
        inside = []
        for i, d, (before, after) in zip(idx, dims, paddings, strict=True):
            if before:
                inside.append(i >= before)
            if after:
                inside.append(i < before + d)
        source = tuple(i - before for i, (before, _) in zip(idx, paddings, strict=True))
        if not inside:
            return x[source]
        return tirx.if_then_else(tirx.all(*inside), x[source], tirx.const(value, x.dtype))

    return te.compute(tuple(int(d) for d in out_shape), body, name="out")


def convert_reshape(ctx: Context, op: Operator) -> Any:
    (x,), out = _io(ctx, op, 1)
    assert x is not None
    if int(np.prod(x.shape)) != int(np.prod(out.shape)):
        raise ModelError(f"{op.label}: cannot reshape {list(x.shape)} to {list(out.shape)}")
    return ctx.emit(
        op, "reshape", lambda X: reshape(X, out_shape=out.shape), [ctx.value(op, op.inputs[0])]
    )


def convert_transpose(ctx: Context, op: Operator) -> Any:
    """TFLite Micro copies the int8 bytes in the permuted order (the output keeps the input's values)."""
    (x, perm_t), out = _io(ctx, op, 2)
    assert x is not None
    perm = [int(p) for p in _constant(op, perm_t, "the permutation", "INT32", 1).tolist()]
    rank = len(x.shape)
    perm = [p + rank if p < 0 else p for p in perm]
    if sorted(perm) != list(range(rank)) or [x.shape[p] for p in perm] != list(out.shape):
        raise ModelError(
            f"{op.label}: permutation {perm} does not turn {list(x.shape)} into {list(out.shape)}"
        )
    return ctx.emit(op, "transpose", lambda X: transpose(X, perm=perm), [ctx.value(op, op.inputs[0])])


def _quantization(t: Tensor) -> str:
    return f"scale {t.scale:.9g} and zero point {t.zero_point}"


def convert_concatenation(ctx: Context, op: Operator) -> Any:
    if len(op.outputs) != 1 or not op.inputs or min(op.inputs) < 0:
        raise ModelError(f"{op.label} has {len(op.inputs)} inputs and {len(op.outputs)} outputs")
    xs = [ctx.tensor(i) for i in op.inputs]
    out = ctx.tensor(op.outputs[0])
    rank = len(out.shape)
    axis = int(op.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    if int(op.options.get("fused_activation_function", 0)) != 0:
        raise ModelError(f"{op.label}: a fused activation is not supported (TFLite Micro needs none)")
    if not 0 <= axis < rank or any(len(x.shape) != rank for x in xs):
        raise ModelError(f"{op.label}: axis {op.options.get('axis')} does not fit rank-{rank} tensors")
    along = sum(x.shape[axis] for x in xs)
    if any(x.shape[:axis] + x.shape[axis + 1 :] != out.shape[:axis] + out.shape[axis + 1 :] for x in xs) or (
        along != out.shape[axis]
    ):
        shapes = ", ".join(str(list(x.shape)) for x in xs)
        raise ModelError(
            f"{op.label}: inputs {shapes} do not concatenate to {list(out.shape)} along axis {axis}"
        )
    for k, x in enumerate(xs):  # TFLite Micro copies int8 bytes: it refuses inputs quantized otherwise
        if np.float32(x.scale) != np.float32(out.scale) or x.zero_point != out.zero_point:
            raise ModelError(
                f"{op.label}: input {k} has {_quantization(x)}, the output {_quantization(out)}; "
                "TFLite Micro's int8 concatenation needs them equal"
            )
    return ctx.emit(
        op,
        "concatenation",
        lambda *X: concatenation(*X, axis=axis, out_shape=out.shape),
        [ctx.value(op, i) for i in op.inputs],
    )


def convert_pad(ctx: Context, op: Operator) -> Any:
    """PAD pads with the output zero point; PADV2 (or PAD with a third operand) with its constant."""
    if len(op.outputs) != 1 or len(op.inputs) not in (2, 3):
        raise ModelError(f"{op.label} has {len(op.inputs)} inputs and {len(op.outputs)} outputs")
    x, out = ctx.tensor(op.inputs[0]), ctx.tensor(op.outputs[0])
    rank = len(x.shape)
    pads_t = ctx.tensor(op.inputs[1]) if op.inputs[1] >= 0 else None
    paddings = _constant(op, pads_t, "the paddings", "INT32", 2)
    expected = tuple(
        int(d + before + after) for d, (before, after) in zip(x.shape, paddings.tolist(), strict=False)
    )
    if paddings.shape != (rank, 2) or np.any(paddings < 0) or expected != tuple(out.shape):
        raise ModelError(
            f"{op.label}: paddings {paddings.tolist()} do not pad {list(x.shape)} to {list(out.shape)}"
        )
    value = out.zero_point
    if len(op.inputs) == 3 and op.inputs[2] >= 0:
        c = ctx.tensor(op.inputs[2])
        if c.data is None or c.type != "INT8" or c.data.size != 1 or c.quant is None:
            raise ModelError(f"{op.label}: the pad value must be a constant int8 scalar")
        if c.zero_point != out.zero_point or np.float32(c.scale) != np.float32(out.scale):
            raise ModelError(
                f"{op.label}: the pad value has {_quantization(c)}, the output {_quantization(out)}; "
                "TFLite Micro needs them equal"
            )
        value = int(c.data.reshape(-1)[0])
    pairs = [(int(b), int(a)) for b, a in paddings.tolist()]
    return ctx.emit(
        op,
        "pad",
        lambda X: pad(X, paddings=pairs, value=value, out_shape=out.shape),
        [ctx.value(op, op.inputs[0])],
    )


FAMILY = Family(
    kernels={"reshape": elementwise, "transpose": elementwise, "concatenation": elementwise,
             "pad": elementwise},
    converters={"RESHAPE": convert_reshape, "TRANSPOSE": convert_transpose,
                "CONCATENATION": convert_concatenation, "PAD": convert_pad, "PADV2": convert_pad},
)
