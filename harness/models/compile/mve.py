"""Schedules for cores with Helium (target feature "mve"): harness.models.compile.dsp's tensorized
CONV_2D / FULLY_CONNECTED, plus DEPTHWISE_CONV_2D around the depthwise tile intrinsic of
harness.models.compile.intrin_mve (utvm_dw_mac_s8: 16 channels per vector per tap on Helium; the same C
takes utvm/dsp.h's portable loop elsewhere, same results). Opt-in:

    compile_model(model, scheduler=apply_mve)

A depthwise kernel fits when its channels are contiguous and its taps plain loads: depth multiplier
1 and no dilation. Each output pixel's channels accumulate in one call over the whole window, then
the int8 epilogue runs over them; a padded input is copied per output row into a small patch
first, as harness.models.compile.dsp does for convolutions. Other depthwise kernels keep their default
schedule.
"""

from __future__ import annotations

from typing import Any

from harness.models.compile.dsp import apply_dsp
from harness.models.compile.intrin_mve import dw_name
from harness.models.int8.attrs import OP_ATTR, SCHEDULED_ATTR

DW_OP = "depthwise_conv2d"
DW_ATTR = "utvm.mve_dw"  # on a depthwise kernel whose taps are tensorized


def _block(sch: Any, name: str) -> Any | None:
    try:
        return sch.get_sblock(name)
    except Exception:  # no such block (no padding)
        return None


def _dw(sch: Any) -> None:
    acc, out = sch.get_sblock("acc"), sch.get_sblock("out")
    loops = sch.get_loops(acc)
    if len(loops) != 6 or len(sch.get_loops(out)) != 4:  # n, y, x, c, then the window's rows and columns
        raise ValueError("not a depthwise accumulation")
    pad = _block(sch, "pad")
    if pad is not None:  # the padded rows one output row reads
        sch.compute_at(pad, loops[1], preserve_unit_loops=True)
        loops = sch.get_loops(acc)
    channels, kh, kw = (int(sch.get(lp).extent) for lp in loops[3:])
    sch.decompose_reduction(acc, loops[3])
    sch.reverse_compute_at(out, loops[2])
    sch.tensorize(sch.get_loops(acc)[3], dw_name(channels, kh, kw))


def mve_dw_schedule(sch: Any) -> bool:
    """Schedule a depthwise_conv2d kernel (blocks pad? -> acc -> out, unscheduled) around the
    depthwise tile intrinsic; False (schedule untouched) if it does not fit."""
    trial = sch.copy()
    try:
        _dw(trial)
    except Exception:  # a schedule primitive or the tensorization refused: not this kernel
        return False
    _dw(sch)
    return True


def apply_mve(mod: Any) -> Any:
    """The module scheduled like harness.models.compile.dsp.apply_dsp, with depthwise kernels tensorized
    where they fit (marked "utvm.mve_dw")."""
    import tvm

    updates: dict[Any, Any] = {}
    for gv, func in mod.functions.items():
        attrs = getattr(func, "attrs", None)
        if attrs is None or OP_ATTR not in attrs or str(attrs[OP_ATTR]) != DW_OP or SCHEDULED_ATTR in attrs:
            continue
        sch = tvm.s_tir.Schedule(func)
        if mve_dw_schedule(sch):
            updates[gv] = sch.mod["main"].with_attr(SCHEDULED_ATTR, True).with_attr(DW_ATTR, True)
    if updates:
        mod = mod.clone()
        for gv, func in updates.items():
            mod.update_func(gv, func)
    return apply_dsp(mod)
