"""CONCATENATION and PAD/PADV2 (int8) as TE copy kernels, as TFLite Micro runs them: its int8
concatenation copies the bytes (it requires every input to share the output's scale and zero
point), and its pad writes one int8 pad value (the output zero point, or PADV2's constant).
One block each, "out"; the loads sit under if_then_else, which, unlike Select, never reads the
branch it does not take.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tvm import te, tirx


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
