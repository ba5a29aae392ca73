"""Compile a model into a fixed graph of C kernels (apache-tvm 0.27).

A float ONNX model (tvm.relax.frontend.onnx), a quantized ONNX model in QDQ form
(harness.models.frontends.onnx_qdq, int8 kernels), an int8 TFLite model (harness.models.int8, our own
int8 kernels), a float32 TFLite model (tvm.relax.frontend.tflite), all recognised by the
file's content, or a Relax IRModule is legalized and
fused to TIR, kernels that carry a default schedule get it, the kernels are emitted as
C (`target="c"`), and the Relax `main`, a straight line of `call_tir`, becomes a Graph:
tensors (inputs, constant parameters, activations, outputs) and nodes (kernel name and
tensor ids).
Anything else (dynamic shapes, control flow, operators TVM cannot lower to TIR)
is a ModelError that names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import ModelError
from harness.models.compile.graph import Graph
from harness.models.compile.lowering import Scheduler, extract_graph, kernels_module, load, lower, schedule

__all__ = ["Compiled", "Scheduler", "compile_model", "extract_graph", "load", "lower", "reference",
           "schedule"]


@dataclass
class Compiled:
    graph: Graph  # planned: every tensor has its place in the arena
    kernels_c: str  # C source of every kernel: its plain function and its TVM-FFI entry, which calls it
    relax_mod: Any  # the lowered module, for a reference run on the host CPU
    entry: str  # its entry function
    tuned: list[str] = field(default_factory=list)  # kernels scheduled by a tuning database's records
    budget: Any = None  # with tuning: its RAM budget and the kernels that fell back (budget.Fit)
    kernels: Any = None  # the scheduled kernels (an IRModule of PrimFuncs), as kernels_c was built
    _unpacked: Any = field(default=None, repr=False)

    def unpacked(self) -> Any:
        """The same kernels with plain C signatures (harness.models.compile.unpacked), for the AOT
        executor; built once, on first use."""
        from harness.models.compile.unpacked import unpacked_c

        if self._unpacked is None:
            if self.kernels is None:
                raise ModelError("this compiled model has no kernels module to unpack")
            self._unpacked = unpacked_c(self.kernels)
        return self._unpacked


def compile_model(source: str | Path | Any, params: dict[str, np.ndarray] | None = None,
                  entry: str | None = None, scheduler: Scheduler | None = None,
                  tuning: Any = None) -> Compiled:
    """`tuning`, a harness.models.compile.records.Database or BestRecords, schedules the kernels it has
    records for, within its RAM budget (harness.models.compile.budget); the others get `scheduler`
    (default: each op's default schedule). Each kernel's loops are its plain function, which its
    packed entry calls (harness.models.compile.unpacked)."""
    from harness.models.compile import c_intrinsics
    from harness.models.compile.unpacked import kernels_c

    c_intrinsics.register()  # tirx.fabs and friends, which TVM's C backend leaves unresolved
    mod, entry = load(source, entry)
    lowered, tuned, fit = lower(mod, entry, params), [], None
    if tuning is None:
        lowered = for_c = schedule(lowered, scheduler)
        graph = extract_graph(lowered[entry]).plan()
    else:
        from harness.models.compile.tuned import within_budget

        within = within_budget(lowered, entry, tuning, scheduler)
        lowered, for_c, tuned, fit = within.scheduled, within.for_c, within.tuned, within.fit
        graph = within.graph
    _output_scales(mod, graph)
    from harness.models.compile.fc_pack import pack_fully_connected
    from harness.models.compile.rq_pack import pack_requant

    kernels = pack_fully_connected(kernels_module(for_c, {n.func for n in graph.nodes}), graph)
    kernels = pack_requant(kernels, graph)
    return Compiled(graph, kernels_c(kernels), lowered, entry, tuned, budget=fit, kernels=kernels)


def _output_scales(mod: Any, graph: Graph) -> None:
    """The int8 scale of each float output dequantized from int8 (a QDQ model's), from the module's
    "utvm.output_scales" attribute, on the graph's output tensors."""
    attrs = getattr(mod, "attrs", None)
    scales = list(attrs["utvm.output_scales"]) if attrs is not None and "utvm.output_scales" in attrs else []
    if len(scales) == len(graph.outputs):
        for tid, scale in zip(graph.outputs, scales, strict=True):
            graph.tensors[tid].scale = float(scale) or None


def reference(compiled: Compiled, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """The model's outputs from TVM's own CPU build (llvm) of the same lowered module."""
    import tvm
    from tvm import relax

    vm = relax.VirtualMachine(tvm.compile(compiled.relax_mod, target="llvm"), tvm.cpu())
    out = vm[compiled.entry](*(tvm.runtime.tensor(np.ascontiguousarray(x)) for x in inputs))
    items = list(out) if not hasattr(out, "numpy") else [out]
    return [o.numpy() for o in items]
