"""Default-schedule application: every int8 kernel (a PrimFunc with a "utvm.op" attribute) gets its
kind's default schedule from the operator table (harness.models.int8.operators) before C is emitted."""

from __future__ import annotations

from typing import Any

from harness.models.int8.attrs import OP_ATTR, SCHEDULED_ATTR
from harness.models.int8.operators import DEFAULT_SCHEDULES

__all__ = ["DEFAULT_SCHEDULES", "apply_default_schedules"]


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

