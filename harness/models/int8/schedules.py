"""Default schedules of the int8 kernels, keyed by their PrimFunc's "utvm.op" attribute.

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

from harness.models.attrs import OP_ATTR, SCHEDULED_ATTR

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


def elementwise(sch: Schedule) -> Schedule:
    return sch


DEFAULT_SCHEDULES: dict[str, ScheduleFn] = {
    "conv2d": accumulate_then_requantize,
    "depthwise_conv2d": accumulate_then_requantize,
    "fully_connected": dot_product,
    "average_pool": accumulate_then_requantize,
    "add": elementwise,
    "reshape": elementwise,
    "softmax": softmax_rows,
    "max_pool": accumulate_then_requantize,
    "mean": accumulate_then_requantize,
    "concatenation": elementwise,
    "pad": elementwise,
    "mul": elementwise,
    "logistic": elementwise,
    "tanh": elementwise,
    "quantize": elementwise,
    "requantize": elementwise,
    "relayout": elementwise,  # ONNX QDQ models' NCHW <-> NHWC copies (harness.models.onnx_qdq.kernels)
    "dequantize": elementwise,
    "lookup": elementwise,  # ONNX QDQ models' Sigmoid and Tanh through a 256-entry table
}


def apply_default_schedules(mod: Any) -> Any:
    """The module with every PrimFunc that carries a known "utvm.op" attribute scheduled
    (once: the result is marked "utvm.scheduled")."""
    import tvm

    updates: dict[Any, Any] = {}
    for gv, func in mod.functions.items():
        attrs = getattr(func, "attrs", None)
        op = str(attrs[OP_ATTR]) if attrs is not None and OP_ATTR in attrs else None
        if op not in DEFAULT_SCHEDULES or SCHEDULED_ATTR in attrs:
            continue
        sch = tvm.s_tir.Schedule(func)
        DEFAULT_SCHEDULES[op](sch)
        updates[gv] = sch.mod["main"].with_attr(SCHEDULED_ATTR, True)
    if not updates:
        return mod
    mod = mod.clone()  # the caller's module stays as it was
    for gv, func in updates.items():
        mod.update_func(gv, func)
    return mod
