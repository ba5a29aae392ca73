"""An executor's own cost per inference: a run's time less the sum of its kernels called directly.

Every tensor of the graph gets its own device buffer (no reuse: parameters copied to RAM, each
activation apart), the inputs are set, and each node's kernel is timed on the device by the time
evaluator on the system library, in graph order, so each kernel reads what the one before wrote, as
in a run. On a QEMU board time counts instructions (-icount), so the difference is exact.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import numpy as np

from harness.models.compile.graph import Graph
from harness.rpc.client import RemoteTensor, RPCClient


def kernel_seconds(client: RPCClient, graph: Graph, inputs: list[np.ndarray], repeat: int = 1) -> list[float]:
    """Seconds of each node's kernel called directly (median of `repeat`), in node order."""
    tensors: dict[int, RemoteTensor] = {}
    try:
        for t in graph.tensors:
            data = t.data if t.data is not None else np.zeros(t.shape, t.dtype)
            tensors[t.id] = client.tensor(data)
        for tid, x in zip(graph.inputs, inputs, strict=True):
            spec = graph.tensors[tid]
            tensors[tid].copyfrom(np.asarray(x, dtype=spec.dtype).reshape(spec.shape))
        lib = client.system_lib()
        out = []
        for node in graph.nodes:
            with lib.time_evaluator(node.func, number=1, repeat=repeat) as te:
                out.append(statistics.median(te(*(tensors[a] for a in node.args))))
        return out
    finally:
        for t in tensors.values():
            t.free()


def overhead(run_seconds: float, kernels: list[float],
             count: Callable[[float], int | None]) -> dict[str, float]:
    """The run less its kernels, in seconds and (where time counts them) instructions or cycles."""
    total = sum(kernels)
    out: dict[str, float] = {"run_ms": round(run_seconds * 1e3, 6), "kernels_ms": round(total * 1e3, 6),
                             "overhead_ms": round((run_seconds - total) * 1e3, 6)}
    run_n, kernels_n = count(run_seconds), sum(count(k) or 0 for k in kernels)
    if run_n is not None:
        out.update(run_count=run_n, kernels_count=kernels_n, overhead_count=run_n - kernels_n)
    return out
