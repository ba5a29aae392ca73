"""A model's kernels as tuning tasks: one per distinct workload, weighted by how often the graph
calls it, with the arguments of its first call (the model's constants, seeded activations) and, for a
fully-connected layer whose compiled model packs its weights (harness.models.compile.fc_pack), their
packed form."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.models.compile import fc_pack, records
from harness.models.compile.graph import Graph
from harness.models.compile.model import extract_graph, load, lower

PACKED_OP = "fully_connected"  # the op whose blocked call may run on packed weights


@dataclass
class Task:
    key: str  # the workload's "utvm.task" hash
    name: str  # the first kernel of the model with this workload, e.g. conv2d_0
    op: str  # its "utvm.op"
    func: Any  # the unscheduled PrimFunc (a MetaSchedule workload's main)
    calls: int  # how many graph nodes call it: the task's weight
    args: list[np.ndarray] = field(default_factory=list)  # inputs of one call; the output last
    kernels: list[str] = field(default_factory=list)  # every kernel of the model with this workload
    packed: fc_pack.Pair | None = None  # the first call's weights and bias as the compiled model packs them

    @property
    def workload(self) -> Any:
        return records.workload(self.func)


def extract(model: str | Path | Any, seed: int = 0) -> list[Task]:
    """The tasks of a model, heaviest first (by calls, then by output size)."""
    import tvm

    mod, entry = load(model)
    lowered = lower(mod, entry)
    graph = extract_graph(lowered[entry])
    funcs = {gv.name_hint: f for gv, f in lowered.functions.items()
             if isinstance(f, tvm.tirx.PrimFunc) and records.tunable(f)}
    tasks: dict[str, Task] = {}
    rng = np.random.default_rng(seed)
    for node in graph.nodes:
        func = funcs.get(node.func)
        if func is None:
            continue
        key = records.task_key(func)
        if key in tasks:
            tasks[key].calls += 1
            if node.func not in tasks[key].kernels:
                tasks[key].kernels.append(node.func)
            continue
        op = str(func.attrs[records.OP_ATTR])
        packs = fc_pack.kernel_packs(graph, node.func) if op == PACKED_OP else None
        tasks[key] = Task(key, node.func, op, func, 1, _args(graph, node.args, rng), [node.func],
                          packs[0] if packs else None)
    return sorted(tasks.values(), key=lambda t: (-t.calls, -t.args[-1].size, t.name))


def _args(graph: Graph, ids: list[int], rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for tid in ids:
        t = graph.tensors[tid]
        if t.data is not None:
            out.append(np.ascontiguousarray(t.data))
        elif np.dtype(t.dtype).kind in "iu":
            info = np.iinfo(t.dtype)
            lo, hi = (info.min, info.max) if info.bits == 8 else (-100, 100)
            out.append(rng.integers(lo, hi, size=t.shape, endpoint=True).astype(t.dtype))
        else:
            out.append(rng.standard_normal(t.shape).astype(t.dtype))
    return out
