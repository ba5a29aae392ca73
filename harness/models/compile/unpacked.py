"""The kernels with a plain C entry, for the AOT executor: `int32_t utvm_k_<name>(void* const* args)`,
args[i] the data of the kernel's tensor argument i (in its argument order), 0 on success.

TVM 0.27's C backend only emits the packed calling convention for an exported PrimFunc: MakePackedAPI
puts the argument decoding (type indices, DLTensor fields, shape, dtype and stride checks with their
messages) in front of the kernel's body, which it marks with a `compute_scope` attribute. This module
adds a step after TVM's own lowering pipeline (a named TIR pipeline, `tvm.build(..., pipeline=...)`):
each packed function is replaced by one with the same body and the same buffer declarations, whose
data is read from the array of pointers instead of the DLTensors, and without the checks. The loops,
their schedules and the intrinsics they call are the very ones the packed kernel (the one tuning
measured) runs; only the argument decoding is gone. Reading each pointer from memory, as the packed
entry does, rather than taking it as a parameter (the 5th and later on the stack on Arm) keeps GCC's
register allocation of the loops as it is in the packed kernel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harness.errors import ModelError, last_line

PREFIX = "utvm_k_"
ARGS = "utvm_args"  # the entry's one parameter
GETTER = "utvm_aot_arg"  # args[i] (crt/include/utvm/aot_kernel.h)
_PIPELINE = "utvm_unpacked"
# A blocked kernel's entry gets one check (no argument array), weighted as the packed entry's checks
# are: GCC 12 estimates each loop's count from the function's entry count; at a plain entry the deep
# nests of constant-count loops of the register-blocked layers (utvm/dsp_blocked_layers.h, inlined)
# go past its estimate and the register allocator spills in the innermost loop (a tuned blocked conv:
# 47% more instructions); behind the packed entry's checks they do not. TVM's own loops compile as
# in the packed kernel without it (and a few worse with it).
_CHECK = f"  if (__builtin_expect_with_probability({ARGS} == NULL, 1, 0.985)) return -1;\n"
_BLOCKED = "utvm_blk_"
_FUNCTION = re.compile(rf"(TVM_DLL int32_t {PREFIX}\w+\(void\* {ARGS}\) {{\n)(.*?\n}}\n)", re.S)
_DATA = 1  # kArrData: tvm_struct_get(handle, 0, 1) is a DLTensor's data
_ARG_VALUE = 15  # kTVMFFIAnyUnionValue: tvm_struct_get(args, i, 15) is argument i's pointer


@dataclass
class Unpacked:
    source: str  # C source of every kernel as utvm_k_<name>
    arity: dict[str, int]  # kernel name -> its number of tensor arguments


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
        from tvm import tirx

        self.name = name
        self.handles: dict[Any, int] = {}  # a DLTensor handle variable -> its argument's index
        self.data = tirx.Var(ARGS, "handle")
        self.found = [False] * num_args

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
        """An argument's buffer declaration: its data, args[i] instead of the DLTensor's."""
        from tvm import tirx

        got = _struct_get(s.data, _DATA)
        if got is None or got.args[0] not in self.handles:
            return s  # a view inside the body's declarations
        i = self.handles[got.args[0]]
        self.found[i] = True
        arg = tirx.call_pure_extern("handle", GETTER, self.data, tirx.IntImm("int32", i))
        return tirx.DeclBuffer(s.buffer, data=tirx.reinterpret(s.data.ty, arg))


def _unpack(packed: Any, name: str, num_args: int) -> Any:
    from tvm import tirx

    u = _Unpacker(name, num_args)
    body = u.stmt(packed.body)
    if not all(u.found):
        raise ModelError(f"kernel {name}: argument {u.found.index(False)} is not a tensor its body declares")
    func = tirx.PrimFunc([u.data], body, ret_type=packed.ret_type)
    attrs = {"global_symbol": PREFIX + name, "target": packed.attrs["target"], "tirx.noalias": True}
    func = func.with_attrs(attrs) if hasattr(func, "with_attrs") else _with(func, attrs)
    left = tirx.analysis.undefined_vars(func.body, list(func.params))
    if left:
        raise ModelError(f"kernel {name}: its body needs {[str(v) for v in left]} beyond its arguments")
    return func


def _with(func: Any, attrs: dict[str, Any]) -> Any:
    for k, v in attrs.items():
        func = func.with_attr(k, v)
    return func


def _register(arity: dict[str, int]) -> None:
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
                funcs[name] = _unpack(f, name, arity[name])
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
    _register(arity)
    try:
        source = tvm.build(kernels, target="c", pipeline=_PIPELINE).inspect_source()
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"TVM could not emit the unpacked kernels: {last_line(exc)}") from None
    return Unpacked(with_blocked_header(with_header(_with_getter(_weighted(source)))), arity)


def _weighted(source: str) -> str:
    """Each blocked kernel's entry with its one check (_CHECK)."""
    return _FUNCTION.sub(lambda m: m.group(1) + (_CHECK if _BLOCKED in m.group(2) else "") + m.group(2),
                         source)


def _with_getter(source: str) -> str:
    """The source with crt/include/utvm/aot_kernel.h included for GETTER, instead of the prototype TVM's C
    codegen writes for an extern it calls (it would conflict with the header's static inline one)."""
    prototype = rf'(#ifdef __cplusplus\nextern "C"\n#endif\n)?TVM_DLL void\* {GETTER}\([^;{{}}]*\);\n'
    return '#include "utvm/aot_kernel.h"\n' + re.sub(prototype, "", source)
