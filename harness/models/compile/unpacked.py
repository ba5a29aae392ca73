"""The kernels with plain C signatures, for the AOT executor: `int32_t utvm_k_<name>(int8_t* in0, ...)`,
one data pointer per tensor argument in the kernel's argument order, 0 on success.

TVM 0.27's C backend only emits the packed calling convention for an exported PrimFunc: MakePackedAPI
puts the argument decoding (type indices, DLTensor fields, shape, dtype and stride checks with their
messages) in front of the kernel's body, which it marks with a `compute_scope` attribute. This module
adds a step after TVM's own lowering pipeline (a named TIR pipeline, `tvm.build(..., pipeline=...)`):
each packed function is replaced by one with the same body and the same buffer declarations, bound to
pointer parameters instead of the DLTensors' data fields, and without the checks. The loops, their
schedules and the intrinsics they call are the very ones the packed kernel (the one tuning measured)
runs; only the argument decoding is gone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harness.errors import ModelError, last_line

PREFIX = "utvm_k_"
_PIPELINE = "utvm_unpacked"
_C_TYPES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "uint16": "uint16_t",
            "int32": "int32_t", "uint32": "uint32_t", "int64": "int64_t", "uint64": "uint64_t",
            "float32": "float", "float64": "double", "bool": "bool"}
# The entry's one check, weighted as the packed entry's checks are (see _weighted): GCC 12 estimates each
# loop's count from the function's entry count, and at a plain entry the kernels' deep nests of
# constant-count loops go past its estimate, so that the register allocator spills in the innermost
# loop (a blocked conv: 47% more instructions); behind the packed entry's checks they do not.
_CHECK = "  if (__builtin_expect_with_probability({arg} == NULL, 1, 0.985)) return -1;\n"
_ENTRY = re.compile(rf"(TVM_DLL int32_t {PREFIX}\w+\(\w+\* (\w+)[^)]*\) {{\n)")
_DATA = 1  # kArrData: tvm_struct_get(handle, 0, 1) is a DLTensor's data
_ARG_VALUE = 15  # kTVMFFIAnyUnionValue: tvm_struct_get(args, i, 15) is argument i's pointer


@dataclass
class Unpacked:
    source: str  # C source of every kernel as utvm_k_<name>
    params: dict[str, list[str]]  # kernel name -> the C type of each argument (a pointer)


def _call_name(expr: Any) -> str:
    return str(getattr(getattr(expr, "op", None), "name", ""))


def _struct_get(expr: Any, field: int) -> Any:
    """The tvm_struct_get(x, i, field) call inside expr (through reinterpret, if_then_else, ...), or None."""
    if _call_name(expr) == "tirx.tvm_struct_get" and int(expr.args[2]) == field:
        return expr
    for a in getattr(expr, "args", []) or []:
        found = _struct_get(a, field)
        if found is not None:
            return found
    return None


class _Unpacker:
    """Walks a packed function's prologue down to its compute scope, keeping the scopes and buffer
    declarations, dropping the checks."""

    def __init__(self, name: str, num_args: int) -> None:
        self.name = name
        self.handles: dict[Any, int] = {}  # a DLTensor handle variable -> its argument's index
        self.params: list[Any] = [None] * num_args
        self.types: list[str] = ["void*"] * num_args

    def stmt(self, s: Any) -> Any:
        from tvm import tirx

        kind = type(s).__name__
        if kind == "SeqStmt":
            kept = [x for x in (self.stmt(x) for x in s.seq) if x is not None]
            return tirx.SeqStmt(kept) if len(kept) != 1 else kept[0]
        if kind == "AttrStmt":
            if s.attr_key == "compute_scope":
                return s
            value = tirx.IntImm("int32", 0) if s.attr_key == "device_id" else s.value  # the CPU's: 0
            return tirx.AttrStmt(s.node, s.attr_key, value, self.stmt(s.body))
        if kind == "Bind":
            return self.bind(s)
        if kind == "DeclBuffer":
            return self.decl(s)
        if kind in ("AssertStmt", "IfThenElse"):  # argument checks (strides are checked in an if)
            return None
        if kind in ("Return", "Evaluate"):
            return s
        raise ModelError(f"kernel {self.name}: cannot unpack a {kind} before its body")

    def bind(self, s: Any) -> None:
        """Drops it: type indices, handles, shape and stride pointers, the device id. Notes each
        argument's handle."""
        got = _struct_get(s.value, _ARG_VALUE)
        if got is not None:
            self.handles[s.var] = int(got.args[1])

    def decl(self, s: Any) -> Any:
        from tvm import tirx

        got = _struct_get(s.data, _DATA)
        if got is None or got.args[0] not in self.handles:
            return s  # a view inside the body's declarations
        i = self.handles[got.args[0]]
        dtype = str(s.buffer.dtype)
        if dtype not in _C_TYPES:
            raise ModelError(f"kernel {self.name}: no C type for a {dtype} argument")
        self.params[i] = tirx.Var(str(s.buffer.name), s.data.ty)
        self.types[i] = _C_TYPES[dtype] + "*"
        return tirx.DeclBuffer(s.buffer, data=self.params[i])


def _unpack(packed: Any, name: str, num_args: int) -> tuple[Any, list[str]]:
    from tvm import tirx

    u = _Unpacker(name, num_args)
    body = u.stmt(packed.body)
    for i, p in enumerate(u.params):
        if p is None:  # an argument the body never reads
            u.params[i] = tirx.Var(f"unused{i}", "handle")
    func = tirx.PrimFunc(u.params, body, ret_type=packed.ret_type)
    attrs = {"global_symbol": PREFIX + name, "target": packed.attrs["target"], "tirx.noalias": True}
    func = func.with_attrs(attrs) if hasattr(func, "with_attrs") else _with(func, attrs)
    left = tirx.analysis.undefined_vars(func.body, list(func.params))
    if left:
        raise ModelError(f"kernel {name}: its body needs {[str(v) for v in left]} beyond its arguments")
    return func, u.types


def _with(func: Any, attrs: dict[str, Any]) -> Any:
    for k, v in attrs.items():
        func = func.with_attr(k, v)
    return func


def _register(arity: dict[str, int], types: dict[str, list[str]]) -> None:
    import tvm
    from tvm.tirx import compilation_pipeline as pipelines

    def factory() -> tuple[Any, Any, Any]:
        lower, host, device = pipelines.get_tir_pipeline("s_tir")

        @tvm.transform.module_pass(opt_level=0)
        def unpack(mod: Any, _ctx: Any) -> Any:
            funcs = {}
            for gv, f in lower(mod).functions.items():
                name = gv.name_hint
                if name not in arity:
                    raise ModelError(f"kernel {name}: not among the kernels to unpack")
                funcs[name], types[name] = _unpack(f, name, arity[name])
            return tvm.IRModule({tvm.ir.GlobalVar(n): f for n, f in funcs.items()})

        return unpack, host, device

    pipelines.register_tir_pipeline(_PIPELINE, factory)


def unpacked_c(kernels: Any) -> Unpacked:
    """The unpacked C source of a module of kernels (PrimFuncs with their global_symbol), as
    harness.models.compile.model.compile_model builds its packed one."""
    import tvm

    from harness.models.compile.blocked import with_blocked_header
    from harness.models.compile.intrin import with_header

    arity = {gv.name_hint: len(f.params) for gv, f in kernels.functions.items()}
    types: dict[str, list[str]] = {}
    _register(arity, types)
    try:
        source = tvm.build(kernels, target="c", pipeline=_PIPELINE).inspect_source()
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"TVM could not emit the unpacked kernels: {last_line(exc)}") from None
    return Unpacked(with_blocked_header(with_header(_weighted(source))), types)


def _weighted(source: str) -> str:
    """Each plain entry with one check in front of its body (a NULL first pointer: -1), which GCC
    weighs as it does the packed entry's, so that it compiles the body's loops as it does there."""
    return _ENTRY.sub(lambda m: m.group(1) + _CHECK.format(arg=m.group(2)), source)
