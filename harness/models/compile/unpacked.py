"""Every kernel's loops once, in a plain C function `int32_t utvm_k_<name>(void* args)` (args[i] the data
of the kernel's tensor argument i, in its argument order; 0 on success), and its packed entry
`__tvm_ffi_<name>` (the graph executor's and tuning's) reduced to TVM's argument decoding and checks plus
one call of that plain function. Graph, AOT and tuning then run the very same machine code for each
kernel, and the AOT executor's run is the graph's minus the executor's work.

TVM 0.27's C backend only emits the packed calling convention for an exported PrimFunc: MakePackedAPI
puts the argument decoding (type indices, DLTensor fields, shape, dtype and stride checks with their
messages) in front of the kernel's body, which it marks with a `compute_scope` attribute. This module
adds a step after TVM's own lowering pipeline (a named TIR pipeline, `tvm.build(..., pipeline=...)`):
each packed function becomes two, the plain one (the same body and buffer declarations, its data read
from the array of pointers, no checks) and the packed one whose compute scope is the array of its
arguments' data and the call. The plain functions are `noipa` (crt/templates/kernel_entries.c,
UTVM_KERNEL_ENTRY): GCC compiles each without regard to its callers (no inlining, no cloning), so a
source of the plain functions alone (the AOT image's and library's) gives them the same code.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from harness.build import template
from harness.errors import ModelError, last_line

PREFIX = "utvm_k_"
ARGS = "utvm_args"  # the plain entry's one parameter, and the packed entry's array of data pointers
GETTER = "utvm_aot_arg"  # args[i] (crt/include/utvm/aot_kernel.h)
ARRAY = "UTVM_KERNEL_ARGS"  # the packed entry's array of its arguments' data (aot_kernel.h)
ENTRY = "UTVM_KERNEL_ENTRY"  # the plain functions' attributes (crt/templates/kernel_entries.c)
_SPLIT = "utvm_split"  # the TIR pipelines: packed entries and plain functions, or the plain ones alone
_PLAIN = "utvm_plain"
# A blocked kernel's plain function gets one check (no argument array), weighted as the packed entry's
# checks are: GCC 12 estimates each loop's count from the function's entry count; at a plain entry the
# deep nests of constant-count loops of the register-blocked layers (utvm/dsp_blocked_layers.h, inlined)
# go past its estimate and the register allocator spills in the innermost loop (a tuned blocked conv:
# 47% more instructions; kws01 with an386's shipped records: 11.05 M instead of 7.57 M); behind the
# checks they do not. TVM's own loops do not need it. One copy of the loops: graph and AOT both get it.
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
        self.datas: list[Any] = [None] * num_args  # argument i's data variable (its buffer's)

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
        self.datas[i] = s.buffer.data
        arg = tirx.call_pure_extern("handle", GETTER, self.data, tirx.IntImm("int32", i))
        return tirx.DeclBuffer(s.buffer, data=tirx.reinterpret(s.data.ty, arg))


def _unpack(packed: Any, name: str, num_args: int) -> tuple[Any, list[Any]]:
    """The plain function of a packed one, and the data variables of its arguments in the packed one."""
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
    return func, u.datas


def _calling(packed: Any, name: str, datas: list[Any]) -> Any:
    """The packed function with its compute scope replaced by `return utvm_k_<name>(array of its
    arguments' data)` (the array: a compound literal, ARRAY)."""
    from tvm import tirx

    array = tirx.call_pure_extern("handle", ARRAY, *datas)
    scope = tirx.Return(tirx.call_extern("int32", PREFIX + name, array))
    replaced = [0]

    def walk(s: Any) -> Any:
        kind = type(s).__name__
        if kind == "SeqStmt":
            return tirx.SeqStmt([walk(x) for x in s.seq])
        if kind == "AttrStmt":
            replaced[0] += s.attr_key == "compute_scope"
            body = scope if s.attr_key == "compute_scope" else walk(s.body)
            return tirx.AttrStmt(s.node, s.attr_key, s.value, body)
        return s

    func = packed.with_body(walk(packed.body))
    if replaced[0] != 1:
        raise ModelError(f"kernel {name}: its packed function has {replaced[0]} compute scopes, not one")
    return func


def kernel_bodies(source: str, prefix: str) -> dict[str, str]:
    """Each function named prefix + kernel in TVM's generated C (prefix "__tvm_ffi_" for the packed
    entries, PREFIX for the plain functions), by kernel: its body."""
    found = re.finditer(rf"TVM_DLL int32_t {prefix}(\w+)\([^)]*\) {{\n(.*?)\n}}\n", source, re.S)
    return {m.group(1): m.group(2) for m in found}


def _with(func: Any, attrs: dict[str, Any]) -> Any:
    for k, v in attrs.items():
        func = func.with_attr(k, v)
    return func


@functools.cache
def _register() -> None:
    """The TIR pipelines _SPLIT (each kernel's packed entry calling its plain function) and _PLAIN (the
    plain functions alone), registered once: each reads its kernels' arities from the module TVM hands
    it, before lowering (so builds on several threads, the tuner's, never see another's)."""
    import tvm
    from tvm.tirx import compilation_pipeline as pipelines

    def factory(packed: bool) -> Any:
        def make() -> tuple[Any, Any, Any]:
            lower, host, device = pipelines.get_tir_pipeline("s_tir")

            @tvm.transform.module_pass(opt_level=0)
            def split(mod: Any, _ctx: Any) -> Any:
                arity = {gv.name_hint: len(f.params) for gv, f in mod.functions.items()}
                funcs = {}
                for gv, f in lower(mod).functions.items():
                    name = gv.name_hint
                    if name not in arity:
                        raise ModelError(f"kernel {name}: not among the kernels to unpack")
                    funcs[PREFIX + name], datas = _unpack(f, name, arity[name])
                    if packed:
                        funcs[name] = _calling(f, name, datas)
                return tvm.IRModule({tvm.ir.GlobalVar(n): f for n, f in funcs.items()})

            return split, host, device

        return make

    pipelines.register_tir_pipeline(_SPLIT, factory(True))
    pipelines.register_tir_pipeline(_PLAIN, factory(False))


def _emit(kernels: Any, pipeline: str) -> tuple[str, dict[str, int]]:
    import tvm

    from harness.models.compile.blocked import with_blocked_header
    from harness.models.compile.intrin import with_header

    arity = {gv.name_hint: len(f.params) for gv, f in kernels.functions.items()}
    _register()
    try:
        source = tvm.build(kernels, target="c", pipeline=pipeline).inspect_source()
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"TVM could not emit the kernels' C: {last_line(exc)}") from None
    return with_blocked_header(with_header(_with_getter(_weighted(source), sorted(arity)))), arity


def kernels_c(kernels: Any) -> str:
    """The C source of a module of kernels (PrimFuncs with their global_symbol): each kernel's plain
    function and its packed entry, which calls it."""
    return _emit(kernels, _SPLIT)[0]


def unpacked_c(kernels: Any) -> Unpacked:
    """The plain functions of kernels_c(kernels) alone, the same C (for the AOT executor)."""
    return Unpacked(*_emit(kernels, _PLAIN))


def _weighted(source: str) -> str:
    """Each blocked kernel's entry with its one check (_CHECK)."""
    return _FUNCTION.sub(lambda m: m.group(1) + (_CHECK if _BLOCKED in m.group(2) else "") + m.group(2),
                         source)


def _with_getter(source: str, names: list[str]) -> str:
    """The source after crt/templates/kernel_entries.c (each plain function declared with ENTRY, and
    crt/include/utvm/aot_kernel.h for GETTER and ARRAY), without the prototypes TVM's C codegen writes
    for the externs it calls (they would conflict with the header's)."""
    guard = r'(#ifdef __cplusplus\nextern "C"\n#endif\n)?'
    prototype = rf"{guard}TVM_DLL void\* ({GETTER}|{ARRAY})\([^;{{}}]*\);\n"
    entries = "\n".join(f"{ENTRY} int32_t {PREFIX}{n}(void* {ARGS});" for n in names)
    return template.fill("kernel_entries.c", entries=entries) + re.sub(prototype, "", source)
