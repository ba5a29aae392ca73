"""The blocked kernels as tuning candidates: each task that harness.models.compile.blocked can rewrite
as one call into dsp_blocked.h is measured that way too, beside its default schedule and best record,
and recorded (harness.models.compile.blocked_choice) so production takes it where it is faster."""

from __future__ import annotations

from typing import Any

from harness.models.compile import blocked_choice
from harness.models.compile.blocked import PARSERS, blocked_kernel
from harness.tune.tasks import Task

LABEL = "blocked"


def candidate(task: Task) -> Any | None:
    """The task's workload with its body as the blocked call, or None where it does not fit."""
    import tvm

    if task.op not in PARSERS:
        return None
    func = blocked_kernel(task.workload["main"], task.op)
    return None if func is None else tvm.IRModule({"main": func})


def settle(db_path: Any, task: Task, seconds: float | None, best: float | None) -> float | None:
    """Record the blocked kernel where it beats `best` (the default and best record measured beside
    it), drop an earlier win where it does not; the task's best time with it taken into account."""
    if seconds is None:
        return best
    won = best is None or seconds < best
    blocked_choice.record(db_path, task.key, task.op, seconds if won else None)
    return seconds if won else best
