"""Schedules of the int8 CONV_2D and FULLY_CONNECTED kernels around the dot-product intrinsics
(harness.models.compile.intrin): opt-in, for cores with the DSP extension (Cortex-M4, M7, M33, M55); on
other cores the same C takes utvm/dsp.h's portable path and gives the same results.

    mod = apply_dsp(lower(mod, entry))     # instead of compile.schedule(...)
    compile_model(model, scheduler=apply_dsp)

A padded input is copied per output row into a small patch (pad computed at the row loop)
instead of being inlined with a bounds test in every tap: the intrinsic needs plain loads.
"""

from __future__ import annotations

from typing import Any

from harness.models.compile.intrin import OUTPUTS, tensorize_dot
from harness.models.compile.schedule import apply_default_schedules
from harness.models.int8.attrs import OP_ATTR, SCHEDULED_ATTR

DSP_OPS = ("conv2d", "fully_connected")
DSP_ATTR = "utvm.dsp"  # on a kernel whose dot products are tensorized: how many outputs per call


def _block(sch: Any, name: str) -> Any | None:
    try:
        return sch.get_sblock(name)
    except Exception:  # no such block (no padding)
        return None


def dsp_schedule(sch: Any, outputs: int = 4) -> int:
    """Schedule a conv2d / fully_connected kernel (blocks pad? -> acc -> out, unscheduled) with
    its dot products tensorized, `outputs` output channels per call where the channel count
    allows (else 2, else 1). Returns the outputs per call, or 0 (schedule untouched) if the
    kernel does not fit: e.g. fewer than 4 contiguous input channels per tap."""
    for m in [m for m in sorted(OUTPUTS, reverse=True) if m <= outputs]:
        trial = sch.copy()
        try:
            ok = _schedule(trial, m)
        except Exception:  # a schedule primitive refused: try fewer outputs
            ok = False
        if ok:
            _schedule(sch, m)
            return m
    return 0


def _schedule(sch: Any, m: int) -> bool:
    acc, out = sch.get_sblock("acc"), sch.get_sblock("out")
    spatial = len(sch.get_loops(out))
    loops = sch.get_loops(acc)
    if len(loops) <= spatial:
        return False
    pad = _block(sch, "pad")
    if pad is not None:  # the padded rows one output row reads
        sch.compute_at(pad, loops[1], preserve_unit_loops=True)
        loops = sch.get_loops(acc)
    channel = loops[spatial - 1]
    if int(sch.get(channel).extent) % m:
        return False
    if m > 1:
        outer, inner = sch.split(channel, [None, m])
        sch.reorder(outer, *loops[spatial:], inner)
        channel = outer
    first_reduction = sch.get_loops(acc)[spatial]
    sch.decompose_reduction(acc, first_reduction)  # acc is now the update block
    sch.reverse_compute_at(out, channel)
    return tensorize_dot(sch, acc, m)


def apply_dsp(mod: Any, outputs: int = 4) -> Any:
    """The module scheduled like apply_default_schedules, with conv2d and fully_connected kernels
    tensorized where they fit (marked "utvm.dsp" = outputs per call)."""
    import tvm

    updates: dict[Any, Any] = {}
    for gv, func in mod.functions.items():
        attrs = getattr(func, "attrs", None)
        op = str(attrs[OP_ATTR]) if attrs is not None and OP_ATTR in attrs else None
        if op not in DSP_OPS or SCHEDULED_ATTR in attrs:
            continue
        sch = tvm.s_tir.Schedule(func)
        m = dsp_schedule(sch, outputs)
        if m:
            updates[gv] = sch.mod["main"].with_attr(SCHEDULED_ATTR, True).with_attr(DSP_ATTR, m)
    if updates:
        mod = mod.clone()
        for gv, func in updates.items():
            mod.update_func(gv, func)
    return apply_default_schedules(mod)
