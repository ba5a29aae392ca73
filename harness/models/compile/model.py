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

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import ModelError, last_line
from harness.models.compile.graph import Graph, Node, TensorInfo
from harness.models.frontends.loaded import from_source, to_relax


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


def load(source: str | Path | bytes | Any, entry: str | None = None) -> tuple[Any, str]:
    """An IRModule and the name of its entry function, from a LoadedModel, an ONNX or TFLite file
    (or the bytes of a TFLite model) or an IRModule."""
    import tvm

    from harness.models.frontends.native_log import quietly

    mod = source if isinstance(source, tvm.IRModule) else quietly(lambda: to_relax(from_source(source)),
                                                                   ModelError, f"cannot read model {source}")
    names = [gv.name_hint for gv, f in mod.functions.items() if isinstance(f, tvm.relax.Function)]
    if entry is None:
        entry = "main" if "main" in names else names[0] if len(names) == 1 else ""
    if entry not in names:
        raise ModelError(f"the model has Relax functions {names}; say which is the entry")
    return mod, entry


def lower(mod: Any, entry: str, params: dict[str, np.ndarray] | None = None) -> Any:
    """Bind parameters, fold constants, legalize and fuse to TIR."""
    import tvm
    from tvm import relax

    if params:
        mod = relax.transform.BindParams(entry, {k: tvm.runtime.tensor(v) for k, v in params.items()})(mod)
    passes = [relax.transform.FoldConstant(), relax.transform.LegalizeOps(), relax.transform.FoldConstant(),
              relax.transform.AnnotateTIROpPattern(), relax.transform.FuseOps(), relax.transform.FuseTIR(),
              relax.transform.DeadCodeElimination([entry])]
    from harness.models.frontends.native_log import quietly

    return quietly(lambda: tvm.transform.Sequential(passes)(mod), ModelError, "TVM could not lower the model")


Scheduler = Callable[[Any], Any]


def schedule(mod: Any, scheduler: Scheduler | None = None) -> Any:
    """Each kernel that names its op ("utvm.op", the int8 TFLite kernels) gets that op's
    default schedule (or the scheduler's, e.g. harness.models.compile.dsp.apply_dsp); other kernels are
    left as TVM lowered them."""
    from harness.models.compile.schedule import apply_default_schedules

    try:
        return (scheduler or apply_default_schedules)(mod)
    except Exception as exc:
        raise ModelError(f"TVM could not schedule the kernels: {last_line(exc)}") from None


def compile_model(source: str | Path | Any, params: dict[str, np.ndarray] | None = None,
                  entry: str | None = None, scheduler: Scheduler | None = None,
                  tuning: Any = None) -> Compiled:
    """`tuning`, a harness.models.compile.records.Database or BestRecords, schedules the kernels it has
    records for, within its RAM budget (harness.models.compile.budget); the others get `scheduler`
    (default: each op's default schedule). Each kernel's loops are its plain function, which its
    packed entry calls (harness.models.compile.unpacked)."""
    from harness.models.compile import c_intrinsics
    from harness.models.compile.unpacked import kernels_c as split_kernels_c

    c_intrinsics.register()  # tirx.fabs and friends, which TVM's C backend leaves unresolved
    mod, entry = load(source, entry)
    lowered, tuned, fit = lower(mod, entry, params), [], None
    if tuning is None:
        lowered = for_c = schedule(lowered, scheduler)
        graph = extract_graph(lowered[entry]).plan()
    else:
        from harness.models.compile.scratch import add_scratch
        from harness.models.compile.tuned import within_budget

        within = within_budget(lowered, entry, tuning, scheduler)
        lowered, for_c, tuned, fit = within.scheduled, within.for_c, within.tuned, within.fit
        graph = add_scratch(extract_graph(lowered[entry]), within.scratch).plan()
    _output_scales(mod, graph)
    kernels = kernels_module(for_c, {n.func for n in graph.nodes})
    return Compiled(graph, split_kernels_c(kernels), lowered, entry, tuned, budget=fit, kernels=kernels)


def kernels_module(lowered: Any, used: set[str]) -> Any:
    """The module's kernels named in `used`, as an IRModule of PrimFuncs named by their symbols."""
    import tvm

    prims = {gv: f for gv, f in lowered.functions.items()
             if type(f).__name__ == "PrimFunc" and gv.name_hint in used}
    return tvm.IRModule({gv: f.with_attr("global_symbol", gv.name_hint) for gv, f in prims.items()})


def kernels_c(kernels: Any) -> str:
    """TVM's own C source (TVM-FFI convention) of an IRModule of kernels, packed entries only: what
    the RAM budget reads each kernel's workspace from."""
    import tvm

    from harness.models.compile import c_intrinsics

    c_intrinsics.register()  # tirx.fabs and friends, which TVM's C backend leaves unresolved
    try:
        return str(tvm.build(kernels, target="c").inspect_source())
    except Exception as exc:
        raise ModelError(f"TVM could not emit C for the kernels: {last_line(exc)}") from None


def emit_kernels(lowered: Any, used: set[str]) -> str:
    """The C source (TVM-FFI convention) of the module's kernels named in `used`."""
    return kernels_c(kernels_module(lowered, used))


def _output_scales(mod: Any, graph: Graph) -> None:
    """The int8 scale of each float output dequantized from int8 (a QDQ model's), from the module's
    "utvm.output_scales" attribute, on the graph's output tensors."""
    attrs = getattr(mod, "attrs", None)
    scales = list(attrs["utvm.output_scales"]) if attrs is not None and "utvm.output_scales" in attrs else []
    if len(scales) == len(graph.outputs):
        for tid, scale in zip(graph.outputs, scales, strict=True):
            graph.tensors[tid].scale = float(scale) or None


def _type_of(expr: Any) -> Any:
    """The Relax type of an expression (`ty` in TVM 0.27, `struct_info` before)."""
    ty = getattr(expr, "ty", None)
    return ty if ty is not None else getattr(expr, "struct_info", None)


def _is(obj: Any, *names: str) -> bool:
    """Whether obj is an IR node of one of these kinds. By class name: TVM moves its IR
    classes between modules from one release to the next (relax -> ir, tir -> tirx)."""
    return any(cls.__name__ in names for cls in type(obj).__mro__)


def _static_shape(sinfo: Any, what: str) -> tuple[tuple[int, ...], str]:
    if not _is(sinfo, "TensorType", "TensorStructInfo") or sinfo.shape is None:
        raise ModelError(f"{what} is not a tensor of known shape ({sinfo})")
    dims = []
    for d in sinfo.shape.values:
        if type(d).__name__ != "IntImm":  # tvm.tir moved to tvm.tirx/tvm.ir.prim across versions
            raise ModelError(f"{what} has a dynamic shape {list(sinfo.shape.values)}: a device graph "
                             "needs every shape fixed")
        dims.append(int(d))
    return tuple(dims), str(sinfo.dtype)


class _Builder:
    """Walks the entry function's dataflow block into a Graph."""

    def __init__(self) -> None:
        self.tensors: list[TensorInfo] = []
        self.ids: dict[Any, int] = {}
        self.nodes: list[Node] = []

    def add(self, key: Any, kind: str, shape: tuple[int, ...], dtype: str, name: str = "",
            data: np.ndarray | None = None) -> int:
        tid = len(self.tensors)
        self.tensors.append(TensorInfo(tid, name or f"t{tid}", shape, dtype, kind, data))
        if key is not None:
            self.ids[key] = tid
        return tid

    def operand(self, expr: Any, what: str) -> int:
        if _is(expr, "Constant"):
            value = getattr(expr, "data", None) or expr.value
            data = value.numpy()
            return self.add(None, "param", tuple(data.shape), str(data.dtype), data=data)
        if _is(expr, "Var") and expr in self.ids:
            return self.ids[expr]
        raise ModelError(f"{what}: unsupported operand {type(expr).__name__} ({_short(expr)})")


def _short(expr: Any) -> str:
    return str(expr).replace("\n", " ")[:120]


def extract_graph(func: Any) -> Graph:
    b = _Builder()
    inputs = []
    for p in func.params:
        name = getattr(p, "name", None) or p.name_hint  # `name` in TVM 0.27
        shape, dtype = _static_shape(_type_of(p), f"input {name}")
        inputs.append(b.add(p, "input", shape, dtype, name=name))
    body = func.body
    if not _is(body, "SeqExpr"):
        raise ModelError("the entry function is not a sequence of bindings")
    for block in body.blocks:
        for binding in block.bindings:
            _bind(b, binding)
    outputs = _outputs(b, body.body)
    graph = Graph(b.tensors, b.nodes, inputs, outputs)
    graph.validate()
    return graph


def _bind(b: _Builder, binding: Any) -> None:
    value, var = binding.value, binding.var
    if _is(value, "Call") and getattr(value.op, "name", "") == "relax.call_tir":
        func, args = value.args[0], value.args[1]
        ins = [b.operand(a, f"call to {func.name_hint}") for a in args.fields]
        ty = _type_of(value)
        sinfos = list(ty.fields) if _is(ty, "TupleType", "TupleStructInfo") else [ty]
        if len(sinfos) != 1:
            raise ModelError(f"{func.name_hint} has {len(sinfos)} outputs; only single-output kernels are "
                             "supported")
        shape, dtype = _static_shape(sinfos[0], f"result of {func.name_hint}")
        out = b.add(var, "activation", shape, dtype)
        b.nodes.append(Node(func.name_hint, [*ins, out]))
    elif _is(value, "Tuple"):
        b.ids[var] = tuple(b.operand(f, "tuple") for f in value.fields)  # type: ignore[assignment]
    elif _is(value, "Var", "Constant"):
        b.ids[var] = b.operand(value, "alias")
    else:
        what = getattr(getattr(value, "op", None), "name", type(value).__name__)
        raise ModelError(f"operator {what} was not lowered to a kernel (unsupported on the device): "
                         f"{_short(value)}")


def _outputs(b: _Builder, result: Any) -> list[int]:
    if _is(result, "Tuple"):
        ids = [b.operand(f, "output") for f in result.fields]
    else:
        got = b.ids.get(result) if _is(result, "Var") else None
        ids = list(got) if isinstance(got, tuple) else [b.operand(result, "output")]
    for i in ids:
        if b.tensors[i].kind == "activation":
            b.tensors[i].kind = "output"
    return ids


def reference(compiled: Compiled, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """The model's outputs from TVM's own CPU build (llvm) of the same lowered module."""
    import tvm
    from tvm import relax

    vm = relax.VirtualMachine(tvm.compile(compiled.relax_mod, target="llvm"), tvm.cpu())
    out = vm[compiled.entry](*(tvm.runtime.tensor(np.ascontiguousarray(x)) for x in inputs))
    items = list(out) if not hasattr(out, "numpy") else [out]
    return [o.numpy() for o in items]
