"""TIR tensor intrinsics for int8 dot products, implemented by crt's micro-kernels (utvm/dsp.h).

Each intrinsic describes M int32 accumulators (M = 1, 2 or 4) each adding the dot product of
one int8 vector A with a row of int8 weights B:

    C[m] += int32(A[k]) * int32(B[m, k])      for m < M, k < K

A and each row of B are K contiguous elements (B's rows any stride apart) and C is contiguous.
The K elements may span two loops (K1 x K2, e.g. a convolution's kernel columns x input
channels, contiguous in NHWC input rows and OHWI weights), so a call can cover a whole kernel
row. Names (registered on first use by intrin_name; register_intrinsics() registers K = 4, 8, 16):

    utvm_dot_s8_k{K}, utvm_dot_s8_k{K1}x{K2}                   one output
    utvm_dot_s8_x{M}_k{K}                                      weights [out, in] (FULLY_CONNECTED)
    utvm_dot_s8_x{M}_k{K}_w4, utvm_dot_s8_x{M}_k{K1}x{K2}_w4   weights OHWI (CONV_2D)

The implementation calls utvm_dot_s8 / utvm_dot_s8_x2 / utvm_dot_s8_x4, which use the dual 16-bit
multiply-accumulate (SMLAD) on cores with the DSP extension and a portable loop elsewhere, with
identical results. The generated C must include "utvm/dsp.h": with_header does it (compile.py).

tensorize_dot(sch, block, outputs) puts one on an accumulation block whose innermost
reduction loop(s) walk both operands contiguously; it leaves the schedule as it was and
returns False when the block does not fit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import tvm
from tvm.s_tir import TensorIntrin

HEADER = "utvm/dsp.h"
EXTERN = {1: "utvm_dot_s8", 2: "utvm_dot_s8_x2", 4: "utvm_dot_s8_x4"}
OUTPUTS = tuple(EXTERN)
PREREGISTERED_K = (4, 8, 16)
MAX_K = 256  # longest reduction one call covers; longer loops are split by a divisor


def with_header(source: str) -> str:
    """Kernel C source with the micro-kernels' header included where it calls them, and without
    the prototypes TVM's C codegen writes for every extern it calls (void* arguments, int32_t
    result: they would conflict with the header's typed static inline definitions)."""
    names = "|".join((*EXTERN.values(), "utvm_dw_mac_s8"))  # and intrin_mve's depthwise tile
    if not re.search(rf"\b({names})\(", source):
        return source
    prototype = rf'(#ifdef __cplusplus\nextern "C"\n#endif\n)?TVM_DLL int32_t ({names})\([^;{{}}]*\);\n'
    return f'#include "{HEADER}"\n' + re.sub(prototype, "", source)


def intrin_name(inner: tuple[int, ...], outputs: int = 1, rank: int = 2) -> str:
    """The intrinsic for a dot product over `inner` = (K,) or (K1, K2) elements into `outputs`
    accumulators, registered on first use. With several outputs, `rank` is the weights' (2:
    [out, in]; 4: OHWI, whose rows are read as B[m, 0, 0, 0:K] or B[m, 0, 0:K1, 0:K2])."""
    if outputs not in EXTERN or len(inner) not in (1, 2) or min(inner) < 1:
        raise ValueError(f"no dot-product intrinsic for {outputs} outputs over {inner}")
    if outputs > 1 and (rank not in (2, 4) or (rank == 2 and len(inner) == 2)):
        raise ValueError(f"weights of rank {rank} with inner dims {inner}: use rank 4 (OHWI) or 2 with (K,)")
    name = f"utvm_dot_s8{'' if outputs == 1 else f'_x{outputs}'}_k{'x'.join(map(str, inner))}"
    name += "_w4" if outputs > 1 and rank == 4 else ""
    if TensorIntrin.get(name, allow_missing=True) is None:
        desc, impl = (tvm.script.from_source(text) for text in _scripts(inner, outputs, rank))
        TensorIntrin.register(name, desc, impl)
    return name


def _scripts(inner: tuple[int, ...], m: int, rank: int) -> tuple[str, str]:
    """TVMScript of the description and the implementation."""
    n = 1
    for d in inner:
        n *= d
    rows = (m,) + (1,) * (rank - 1 - len(inner)) if m > 1 else ()
    row_strides = ["T.int32()"] * len(rows)
    inner_strides = [str(inner[1]), "1"] if len(inner) == 2 else ["1"]
    shape_a, shape_b = inner, rows + inner
    strides_a = f", strides=[{', '.join(inner_strides)}]" if len(inner) == 2 else ""
    strides_b = f", strides=[{', '.join(row_strides + inner_strides)}]" if rows or len(inner) == 2 else ""
    whole_a = ", ".join(f"0:{d}" for d in shape_a)
    whole_b = ", ".join(f"0:{d}" for d in shape_b)
    names = ["j", "k"][-len(inner):]
    idx_a = ", ".join(f"v{v}" if d > 1 else "0" for v, d in zip(names, inner, strict=True))
    idx_b = ", ".join(["vi"] * (m > 1) + ["0"] * (len(rows) - 1) + [idx_a])
    c = "C[vi]" if m > 1 else "C[0]"
    loops = (["i"] if m > 1 else []) + [v for v, d in zip(names, inner, strict=True) if d > 1]
    extents = ([m] if m > 1 else []) + [d for d in inner if d > 1]
    kinds = ("S" if m > 1 else "") + "R" * (len(loops) - (m > 1))
    head = f"""
@T.prim_func(s_tir=True)
def func(a: T.handle, b: T.handle, c: T.handle):
    A = T.match_buffer(a, {shape_a}, "int8", offset_factor=1{strides_a})
    B = T.match_buffer(b, {shape_b}, "int8", offset_factor=1{strides_b})
    C = T.match_buffer(c, ({m},), "int32", offset_factor=1)
    with T.sblock("root"):
        T.reads(C[0:{m}], A[{whole_a}], B[{whole_b}])
        T.writes(C[0:{m}])
"""
    desc = head + f"""\
        for {", ".join(loops)} in T.grid({", ".join(map(str, extents))}):
            with T.sblock("update"):
                {", ".join(f"v{v}" for v in loops)} = T.axis.remap("{kinds}", [{", ".join(loops)}])
                {c} = {c} + T.Cast("int32", A[{idx_a}]) * T.Cast("int32", B[{idx_b}])
"""
    ptrs = 'A.access_ptr("r"), B.access_ptr("r")'
    if m == 1:
        call = f'C[0] = T.call_extern("int32", "{EXTERN[1]}", {ptrs}, {n}, C[0])'
    else:
        call = (f'T.evaluate(T.call_extern("int32", "{EXTERN[m]}", {ptrs}, B.strides[0], {n}, '
                'C.access_ptr("rw")))')
    return desc, head + "        " + call + "\n"


_NAME = re.compile(r"utvm_dot_s8(?:_x(\d))?_k(\d+)(?:x(\d+))?(_w4)?")


def register_named(text: str) -> list[str]:
    """Register every intrinsic named in `text` (a schedule's trace, to be replayed)."""
    names = []
    for m in _NAME.finditer(text):
        outputs, k1, k2, w4 = m.groups()
        inner = (int(k1), int(k2)) if k2 else (int(k1),)
        names.append(intrin_name(inner, int(outputs or 1), 4 if w4 else 2))
    return names


def register_intrinsics() -> list[str]:
    """Register the intrinsics for K = 4, 8, 16 (1, 2 and 4 outputs, both weight layouts) up
    front, for a search that lists them; tensorize_dot registers whatever else it uses."""
    return [intrin_name((k,), m, rank) for k in PREREGISTERED_K for m in OUTPUTS
            for rank in ((2, 4) if m > 1 else (2,))]


def _loop_kinds(sch: Any, block: Any, loops: list[Any]) -> list[str] | None:
    """For each loop of the block: "S" if it feeds only spatial block iterators, "R" if only
    reduction ones, "" if none or both; None if the block is not directly under its last loop."""
    from tvm.tirx.analysis import undefined_vars

    realize = sch.get(loops[-1]).body if loops else None
    stmt = sch.get(block)
    if realize is None or type(realize).__name__ != "SBlockRealize" or not realize.block.same_as(stmt):
        return None
    feeds: dict[Any, set[int]] = {}
    for iv, value in zip(stmt.iter_vars, realize.iter_values, strict=True):
        for var in undefined_vars(value, []):
            feeds.setdefault(var, set()).add(int(iv.iter_type))
    kinds = []
    for loop in loops:
        types = feeds.get(sch.get(loop).loop_var, set())
        kinds.append("S" if types == {0} else "R" if types == {2} else "")
    return kinds


def choose_k(extent: int) -> int | None:
    """The elements one call covers: the whole loop when it is short enough, else its largest
    divisor up to MAX_K (None below 4: no pair of SMLADs to gain)."""
    k = next(d for d in range(min(extent, MAX_K), 0, -1) if extent % d == 0)
    return k if k >= 4 else None


def _loaded(expr: Any) -> Any | None:
    """The buffer an expression loads from (BufferLoad; TensorLoad in TVM 0.27), else None."""
    if type(expr).__name__ not in ("BufferLoad", "TensorLoad"):
        return None
    return getattr(expr, "buffer", None) or getattr(expr, "source", None)


def _operands(stmt: Any) -> tuple[Any, Any] | None:
    """The buffers A, B if the block's body is acc = acc + int32(A[..]) * int32(B[..]), A, B int8."""
    store, add = stmt.body, getattr(stmt.body, "value", None)
    if type(store).__name__ != "BufferStore" or type(add).__name__ != "Add" or type(add.b).__name__ != "Mul":
        return None
    acc = _loaded(add.a)
    if acc is None or not acc.same_as(store.buffer) or str(acc.dtype) != "int32":
        return None
    a, b = (_loaded(f.value) if type(f).__name__ == "Cast" else None for f in (add.b.a, add.b.b))
    if a is None or b is None or str(a.dtype) != "int8" or str(b.dtype) != "int8":
        return None
    return a, b


@dataclass(frozen=True)
class Plan:
    reductions: tuple[int, ...]  # the loops (indices) the call covers: innermost reduction, or two
    split: int | None  # K, when the single reduction loop is longer than one call
    output: int | None  # the output loop, with several outputs
    rank: int  # of the weights
    refuse: bool = False  # fuse the two reduction loops first (a split whose inner loop is unrolled)


def _plans(sch: Any, block: Any, outputs: int) -> list[Plan]:
    """Ways to tensorize the block, best first: a call over the two innermost reduction loops
    (their elements contiguous: the inner one spans whole rows of both operands), then over
    the innermost one (split by K if long; fused with the loop around it first if it is the
    unrolled inner part of a split, as in the default FULLY_CONNECTED schedule)."""
    stmt = sch.get(block)
    ops = _operands(stmt)
    loops = sch.get_loops(block)
    kinds = _loop_kinds(sch, block, loops) if ops is not None and stmt.init is None else None
    if kinds is None:
        return []  # not the pattern, or its reduction not decomposed from its initialisation yet
    (a, b), rank = ops, len(ops[1].shape)
    extent = [int(sch.get(lp).extent) for lp in loops]
    reductions = [i for i, kd in enumerate(kinds) if kd == "R"]
    s = next((i for i in range(len(kinds) - 1, -1, -1) if kinds[i] == "S"), None) if outputs > 1 else None
    if not reductions or (outputs > 1 and (s is None or extent[s] % outputs or rank not in (2, 4))):
        return []
    r = reductions[-1]
    allowed = {r, s} if s is not None else {r}
    plans = []
    if len(reductions) > 1 and (outputs == 1 or rank == 4):
        r2 = reductions[-2]
        whole_rows = extent[r] == int(a.shape[-1]) == int(b.shape[-1])
        if whole_rows and 4 <= extent[r2] * extent[r] <= MAX_K:
            plans.append(Plan((r2, r), None, s, rank))
    unrolled = int(sch.get(loops[r]).kind) != 0  # e.g. the default FULLY_CONNECTED schedule's inner 4
    if unrolled and len(reductions) > 1 and reductions[-2] == r - 1:
        k = choose_k(extent[r - 1] * extent[r])
        if k is not None:
            plans.append(Plan((r - 1, r), k if extent[r - 1] * extent[r] > k else None, s, rank, refuse=True))
    elif (k := choose_k(extent[r])) is not None:
        plans.append(Plan((r,), k if extent[r] > k else None, s, rank))
    valid = []
    for plan in plans:
        first = min(plan.reductions + ((s,) if s is not None else ()))
        between = set(range(first, len(loops))) - set(plan.reductions) - allowed
        if outputs == 1 and (between or plan.reductions[-1] != len(loops) - 1):
            continue  # one output: the call's loops are the innermost ones
        if outputs > 1 and (any(kinds[i] == "" for i in range(first, len(loops)))
                            or len(sch.get_child_blocks(loops[first])) != 1):
            continue
        valid.append(plan)
    return valid


def _apply(sch: Any, block: Any, outputs: int, plan: Plan) -> None:
    loops = list(sch.get_loops(block))
    inner = [loops[i] for i in plan.reductions]
    if plan.refuse:
        inner = [sch.fuse(*inner)]
    if plan.split is not None:
        _, inner[-1] = sch.split(inner[-1], [None, plan.split])
    dims = tuple(int(sch.get(lp).extent) for lp in inner)
    if len(inner) == 2 and 1 in dims:  # a unit loop (e.g. one input channel) has no loop in the intrinsic
        inner = [sch.fuse(*inner)]
    if plan.output is None:
        sch.tensorize(inner[0], intrin_name(dims, 1))
        return
    channel = loops[plan.output]
    if int(sch.get(channel).extent) > outputs:
        _, channel = sch.split(channel, [None, outputs])
    chain = sch.get_loops(block)
    moved = [sch.get(lp) for lp in [channel, *inner]]
    picked = [any(sch.get(lp).same_as(m) for m in moved) for lp in chain]
    first = picked.index(True)
    rest = [lp for lp, p in zip(chain[first:], picked[first:], strict=True) if not p]
    sch.reorder(*rest, channel, *inner)
    sch.tensorize(channel, intrin_name(dims, outputs, plan.rank))


def tensorize_dot(sch: Any, block: Any, outputs: int = 1) -> bool:
    """Tensorize the int8 dot product of an accumulation block (acc += int32(a) * int32(b), its
    reduction already decomposed from its initialisation) with a utvm_dot_s8 intrinsic.

    One output: the block's innermost loop(s) must be reductions walking both operands
    contiguously; the innermost is split by K (choose_k) if long, and becomes one call,
    together with the reduction loop around it when the inner one spans whole rows of both
    operands (a convolution's kernel columns x all input channels). Several outputs (2 or 4):
    also the block's innermost spatial loop is split by `outputs` and moved just outside the
    call's reduction loops, so one call computes that many accumulators from one input vector:
    the first operand must not depend on it, the accumulator must be contiguous along it, and
    the loops from there down must hold only this block.

    The schedule changes only on success: each way is tried on a copy first.
    """
    if outputs not in EXTERN:
        return False
    for plan in _plans(sch, block, outputs):
        try:
            _apply(sch.copy(), block, outputs, plan)
        except Exception:  # TVM's ScheduleError and friends: this way does not fit
            continue
        _apply(sch, block, outputs, plan)
        return True
    return False
