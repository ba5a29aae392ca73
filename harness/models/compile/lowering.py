"""The steps of compiling a model that tuning and the RAM budget also take, each on its own: load a
model into an IRModule, lower it to TIR kernels, schedule them, emit their C (TVM's own, packed
entries), and read the Relax `main`, a straight line of `call_tir`, as a Graph. harness.models.compile
.model puts them together (compile_model)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import ModelError, last_line
from harness.models.compile.graph import Graph, Node, TensorInfo
from harness.models.frontends.loaded import from_source, to_relax


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


def kernels_module(lowered: Any, used: set[str]) -> Any:
    """The module's kernels named in `used`, as an IRModule of PrimFuncs named by their symbols."""
    import tvm

    prims = {gv: f for gv, f in lowered.functions.items()
             if type(f).__name__ == "PrimFunc" and gv.name_hint in used}
    return tvm.IRModule({gv: f.with_attr("global_symbol", gv.name_hint) for gv, f in prims.items()})


def replace_funcs(kernels: Any, updates: dict[Any, Any]) -> Any:
    """A copy of the IRModule `kernels` with each global var of `updates` bound to its new function
    (`kernels` itself when there is none)."""
    if not updates:
        return kernels
    kernels = kernels.clone()
    for gv, func in updates.items():
        kernels.update_func(gv, func)
    return kernels


def packed_c(kernels: Any) -> str:
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
    return packed_c(kernels_module(lowered, used))


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
