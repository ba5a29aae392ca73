"""The blocked kernels as tuning candidates: each task that harness.models.compile.blocked can rewrite
as one call into dsp_blocked.h is measured that way too, beside its default schedule and best record,
and recorded (harness.models.compile.blocked_choice) so production takes it where it is faster.

A batch-1 fully-connected call is measured as the compiled model runs it (harness.models.compile.
fc_pack): where the model packs the layer's weights, the candidate calls utvm_blk_fc_call with
`packed` 1, on the weights and bias the target's parameter tables keep (packed on the SMLAD path,
file order elsewhere: fc_pack.packs_on)."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.models.compile import blocked_choice, fc_pack
from harness.models.compile.blocked import PARSERS, blocked_kernel, packed_fc_kernel
from harness.targets import Target
from harness.tune.tasks import Task

LABEL = "blocked"
ARGS_ATTR = "utvm.tune_args"  # on a candidate measured on other arguments than its task's: which
PACKED_ARGS = "fcp"  # the task's arguments with the weights and bias the target's build keeps


def candidate(task: Task) -> Any | None:
    """The task's workload with its body as the blocked call (a packed fully-connected call where the
    compiled model packs the layer), or None where it does not fit."""
    import tvm

    if task.op not in PARSERS:
        return None
    func = blocked_kernel(task.workload["main"], task.op)
    if func is None:
        return None
    packed = packed_fc_kernel(func) if task.packed is not None else None
    if packed is not None:
        func = packed.with_attr(ARGS_ATTR, PACKED_ARGS)
    return tvm.IRModule({"main": func})


def arguments(task: Task, which: str, target: Target) -> list[np.ndarray]:
    """The arguments a candidate marked `which` (ARGS_ATTR; "" for none) is measured on: the task's,
    with the packed weights and bias where the candidate is a packed call and the target keeps them."""
    if which != PACKED_ARGS or task.packed is None or not fc_pack.packs_on(target):
        return task.args
    w, b = task.packed
    args = list(task.args)
    args[1], args[2] = w.reshape(args[1].shape), b.reshape(args[2].shape)
    return args


def settle(db_path: Any, task: Task, seconds: float | None, best: float | None) -> float | None:
    """Record the blocked kernel where it beats `best` (the default and best record measured beside
    it), drop an earlier win where it does not; the task's best time with it taken into account."""
    if seconds is None:
        return best
    won = best is None or seconds < best
    blocked_choice.record(db_path, task.key, task.op, seconds if won else None)
    return seconds if won else best
