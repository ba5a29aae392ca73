"""Opt-in kernels on the register-blocked micro-kernels of crt/include/utvm/dsp_blocked.h: 1x1
CONV_2D (stride 1, no padding) and per-channel FULLY_CONNECTED as one matrix-product call (2 output
channels x 2 pixels per tile, inputs widened to int16 once per pixel row, requantization fused; one
pixel, as a batch-1 fully-connected layer, without scratch: 4 channels per pass on the int8 row),
DEPTHWISE_CONV_2D (depth multiplier 1) as one depthwise call (3x3 special case, four channels per
pass). On Helium cores the same calls take the header's MVE path (utvm/dsp_blocked_mve.h: VMLADAVA
tiles on the int8 rows, 16 depthwise channels per pass, vector requantization; same bits). The rest
is harness.models.compile.dsp.apply_dsp's (on the MLPerf Tiny models no depthwise layer is left for
it, so apply_mve as the base would change nothing there).

    compile_model(model, scheduler=apply_blocked)

TIR tensorization cannot express a tile with its fused epilogue, so a kernel that fits keeps its
PrimFunc (same parameters, hence the same TVM-FFI function `__tvm_ffi_<name>` the graph executor and
the tuner call) with its body replaced by one extern call into the header; the layer's constants
(shapes, window, zero points, activation range) are read from the kernel's own TIR (the int8 kernels
of harness.models.tflite, double rounding as TFLite Micro). A kernel whose TIR does not have that
form keeps its schedule. with_blocked_header includes the header in the emitted C.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from harness.models.compile.dsp import apply_dsp
from harness.models.int8.attrs import OP_ATTR, SCHEDULED_ATTR

HEADER = "utvm/dsp_blocked_layers.h"
BLOCKED_ATTR = "utvm.blocked"  # on a kernel that is one call into dsp_blocked.h: its entry point
MATMUL, CONV, DEPTHWISE = "utvm_blk_matmul_call", "utvm_blk_conv_call", "utvm_blk_dw_call"
RQ_UNPACK = "utvm_blk_rq_unpack"  # packed requantization constants (harness.models.compile.rq_pack)
FC = "utvm_blk_fc_call"  # one pixel: the int8 row read as it is, no scratch (utvm/dsp_blocked_fc.h)
SCALARS_ATTR = "utvm.blocked_scalars"  # on an FC kernel: its call's scalars (harness.models.compile.fc_pack)
DOUBLE_ROUNDING = {"out_ab", "out_nudged", "out_x", "out_e", "out_mask"}  # the epilogue's Let buffers
PER_TENSOR = {"out_ab", "out_nudged", "out_x"}  # the same with the multiplier and shift constants
MAX_SCRATCH = 2048  # K of a pixel row: two rows widened (or packed) in the kernel's scratch, 8 KiB at most
MAX_TAPS = 64  # UTVM_BLK_DW_MAX_TAPS
DW3_BUDGET = 1000  # UTVM_BLK_DW3_BUDGET: bytes of plane the 3x3 depthwise kernel keeps at most


def _shape(buf: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in buf.shape)


def _block(sch: Any, name: str) -> Any | None:
    try:
        return sch.get(sch.get_sblock(name))
    except Exception:  # no such block
        return None


def _int(expr: Any) -> int:
    if type(expr).__name__ != "IntImm":
        raise ValueError(f"not a constant: {expr}")
    return int(expr.value)


def _evaluate(expr: Any, env: dict[str, int]) -> int:
    """An index expression (+, -, *, variables, constants) at env (variables by name, default 0)."""
    kind = type(expr).__name__
    if kind == "IntImm":
        return int(expr.value)
    if kind == "Var":
        return env.get(str(expr.name), 0)
    ops: dict[str, Callable[[int, int], int]] = {"Add": int.__add__, "Sub": int.__sub__, "Mul": int.__mul__}
    if kind not in ops:
        raise ValueError(f"unexpected index expression {expr}")
    return ops[kind](_evaluate(expr.a, env), _evaluate(expr.b, env))


def _requant(sch: Any) -> tuple[int, int, int]:
    """(output zero point, act_min, act_max) of the "out" block: Cast(int8, min(max(v + zp, lo), hi))."""
    out = _block(sch, "out")
    names = {b.name for b in out.alloc_buffers} if out is not None else set()
    if out is None or names not in (DOUBLE_ROUNDING, PER_TENSOR):
        raise ValueError("not TFLite's double-rounding epilogue")
    clamp = out.body.seq[-1].value.value
    hi, lo, scaled = _int(clamp.b), _int(clamp.a.b), clamp.a.a
    zp = 0
    if type(scaled).__name__ in ("Add", "Sub") and type(scaled.b).__name__ == "IntImm":
        zp = _int(scaled.b) if type(scaled).__name__ == "Add" else -_int(scaled.b)
    return zp, lo, hi


def _per_tensor(sch: Any) -> tuple[int, int]:
    """(multiplier, shift) baked into a per-tensor epilogue: ab = acc * m + bias * m, then a right
    shift of the high product by -shift (none for shift 0; a left shift is not taken)."""
    out = _block(sch, "out")
    assert out is not None
    ab = out.body.seq[0].value
    if type(ab).__name__ != "Add" or _int(ab.a.b) != _int(ab.b.b) or "*" in str(ab.a.a):
        raise ValueError("not a per-tensor multiplier")  # (a left shift multiplies the accumulator)
    shifts: list[int] = []

    def visit(e: Any) -> None:
        kind = type(e).__name__
        if kind in ("RShift", "ShiftRight") and type(e.b).__name__ == "IntImm" and "out_x" in str(e.a):
            shifts.append(_int(e.b))
        for field in ("a", "b", "value", "condition", "true_value", "false_value"):
            child = getattr(e, field, None)
            if child is not None and not isinstance(child, int | str):
                visit(child)

    visit(out.body.seq[-1].value)
    if len(set(shifts)) > 1:
        raise ValueError("unexpected epilogue")
    return _int(ab.a.b), -(shifts[0] if shifts else 0)


def _window(sch: Any) -> list[int]:
    """[stride_h, stride_w, dil_h, dil_w, pad_top, pad_left, in_zp] from the "pad" and "acc" blocks."""
    pad, in_zp, top, left = _block(sch, "pad"), 0, 0, 0
    if pad is not None:
        _, load, value = pad.body.value.args
        in_zp, top, left = _int(value), -_evaluate(load.indices[1], {}), -_evaluate(load.indices[2], {})
    acc = _block(sch, "acc")
    assert acc is not None
    load = acc.body.value.b.a.value  # Cast(int32, padded-input load) * Cast(int32, weight load)
    names = [str(iv.var.name) for iv in acc.iter_vars]  # n, y, z, c, rh, rw[, rc]
    rows, cols = load.indices[1], load.indices[2]
    sh, dh = _evaluate(rows, {names[1]: 1}), _evaluate(rows, {names[4]: 1})
    sw, dw = _evaluate(cols, {names[2]: 1}), _evaluate(cols, {names[5]: 1})
    return [sh, sw, dh, dw, top, left, in_zp]


def _fully_connected(func: Any, sch: Any) -> tuple[str, list[int]]:
    params = list(func.params)
    x, w, out = _shape(params[0]), _shape(params[1]), _shape(params[-1])
    if len(params) == 6:
        per_channel, m, s = 1, 0, 0
    elif len(params) == 4:
        (m, s), per_channel = _per_tensor(sch), 0
    else:
        raise ValueError("unexpected parameters")
    if int(np.prod(x)) != out[0] * w[1] or (out[0] > 1 and w[1] > MAX_SCRATCH):
        raise ValueError("too long a row")
    return _matmul(out[0], w[1], w[0], per_channel, *_requant(sch), m, s)


def _matmul(pixels: int, k: int, channels: int, *rest: int) -> tuple[str, list[int]]:
    """The matrix product's call: one pixel without scratch (FC), else two rows widened (MATMUL)."""
    return (FC, [k, channels, *rest]) if pixels == 1 else (MATMUL, [pixels, k, channels, *rest])


def _conv2d(func: Any, sch: Any) -> tuple[str, list[int]]:
    params = list(func.params)
    if len(params) != 6:
        raise ValueError("unexpected parameters")
    x, w, out = _shape(params[0]), _shape(params[1]), _shape(params[5])
    zp, lo, hi = _requant(sch)
    pixels = x[0] * x[1] * x[2]
    pointwise = _block(sch, "pad") is None and w[1:3] == (1, 1) and x[:3] == out[:3]
    if pointwise and (x[3] <= MAX_SCRATCH or pixels == 1):
        return _matmul(pixels, x[3], w[0], 1, zp, lo, hi, 0, 0)
    if x[0] != 1 or w[1] * w[2] * w[3] > MAX_SCRATCH:
        raise ValueError("batch or window too large")
    *window, in_zp = _window(sch)
    return CONV, [x[1], x[2], x[3], w[0], w[1], w[2], *window, out[1], out[2], in_zp, zp, lo, hi]


def _depthwise(func: Any, sch: Any) -> tuple[str, list[int]]:
    params = list(func.params)
    x, w, out = _shape(params[0]), _shape(params[1]), _shape(params[-1])
    if len(params) != 6 or x[0] != 1 or w[0] != 1 or x[3] != w[3] or out[3] != w[3]:
        raise ValueError("depth multiplier other than 1")
    if w[1] * w[2] > MAX_TAPS:
        raise ValueError("too large a window")
    sh, sw, dh, dw, top, left, in_zp = _window(sch)
    return DEPTHWISE, [x[1], x[2], x[3], w[1], w[2], sh, sw, dh, dw, top, left, out[1], out[2], in_zp,
                       *_requant(sch)]


PARSERS = {"conv2d": _conv2d, "fully_connected": _fully_connected, "depthwise_conv2d": _depthwise}


def _call(func: Any, op: str) -> tuple[str, list[int]]:
    import tvm

    return PARSERS[op](func, tvm.s_tir.Schedule(func))


def dw_scratch(scalars: list[int]) -> int:
    """Bytes of a depthwise call's scratch: its channels, or the 3x3 kernel's padded plane
    (UTVM_BLK_DW_SCRATCH of utvm/dsp_blocked_dw.h) where that is larger."""
    _, _, channels, k_h, k_w, stride_h, stride_w, *_, out_h, out_w = scalars[:13]
    rows, width = (out_h - 1) * stride_h + 3, (out_w - 1) * stride_w + 3
    if rows * width + 4 > DW3_BUDGET:  # a band of rows (UTVM_BLK_DW3_ROWS)
        rows = max(3, (DW3_BUDGET - 4) // width)
    return max(channels, rows * width + 4) if (k_h, k_w) == (3, 3) else channels


def _source(func: Any, entry: str, scalars: list[int], packed: bool = False) -> str:
    """TVMScript of the kernel: its parameters, scratch buffers, one call_extern (FC: last the flag
    `packed`, weights and bias packed on the SMLAD path: harness.models.compile.fc_pack)."""
    params = list(func.params)
    sig = ", ".join(f'{p.name}: T.Buffer({_shape(p)}, "{p.dtype}")' for p in params)
    data = [f"{p.name}.data" for p in params]
    body: list[str] = []
    if entry in (MATMUL, FC):
        *shape, m, s = scalars
        if len(params) == 4:  # per-tensor: the multiplier and the (int8) shift in one-element buffers
            body += ['    ms = T.alloc_buffer((1,), "int32")', f"    ms[0] = {m}",
                     '    sh = T.alloc_buffer((1,), "int8")', f"    sh[0] = T.int8({s})"]
            data = [*data[:3], "ms.data", "sh.data", data[3]]
        if entry == FC:
            args = [*data[:6], *map(str, shape), str(int(packed))]
        else:
            body.append(f'    scratch = T.alloc_buffer(({shape[1]},), "int32")')  # 2k int16, word-aligned
            args = [*data[:5], "scratch.data", data[5], *map(str, shape)]
    elif entry == CONV:
        k = scalars[2] * scalars[4] * scalars[5]
        body += [f'    patch = T.alloc_buffer(({2 * k},), "int8")',
                 f'    scratch = T.alloc_buffer(({k},), "int32")']  # 2k int16 on a 4-byte boundary (LDM)
        args = [*data[:5], "patch.data", "scratch.data", data[5], *map(str, scalars)]
    else:  # the zero-point row, or the 3x3 kernel's padded plane (UTVM_BLK_DW_SCRATCH)
        body.append(f'    zp_row = T.alloc_buffer(({dw_scratch(scalars)},), "int8")')
        args = [*data[:5], "zp_row.data", data[5], *map(str, scalars)]
    body.append(f'    T.call_extern("int32", "{entry}", {", ".join(args)})')
    head = ["@T.prim_func(private=True)", f"def main({sig}):", '    T.func_attr({"tirx.noalias": True})']
    return "\n".join([*head, *body])


def _made(func: Any, entry: str, scalars: list[int], attrs: dict[str, Any], packed: bool = False) -> Any:
    """The kernel made from _source's TVMScript, with `attrs`."""
    import tvm
    from tvm.script import tirx as T

    new = tvm.script.from_source(_source(func, entry, scalars, packed), extra_vars={"T": T})
    return new.with_attrs(attrs)


def _attrs(func: Any) -> dict[str, Any]:
    return {str(k): v for k, v in func.attrs.items()} if func.attrs is not None else {}


def blocked_kernel(func: Any, op: str) -> Any | None:
    """The kernel as one call into dsp_blocked.h (attributes kept, marked scheduled and "utvm.blocked"),
    or None if it does not fit."""
    try:
        entry, scalars = _call(func, op)
    except (ValueError, AttributeError, IndexError, TypeError):
        return None
    attrs = _attrs(func)
    if entry == FC:
        attrs[SCALARS_ATTR] = scalars
    return _made(func, entry, scalars, {**attrs, SCHEDULED_ATTR: True, BLOCKED_ATTR: entry})


def packed_fc_kernel(func: Any) -> Any | None:
    """A batch-1 fully-connected kernel of blocked_kernel's made again calling utvm_blk_fc_call with
    `packed` 1 (harness.models.compile.fc_pack); None for any other kernel."""
    attrs = _attrs(func)
    if str(attrs.get(BLOCKED_ATTR, "")) != FC or SCALARS_ATTR not in attrs:
        return None
    return _made(func, FC, [int(v) for v in attrs[SCALARS_ATTR]], attrs, packed=True)


def apply_blocked(mod: Any) -> Any:
    """The module with the kernels that fit as calls into dsp_blocked.h, the rest as apply_dsp."""
    updates: dict[Any, Any] = {}
    for gv, func in mod.functions.items():
        attrs = getattr(func, "attrs", None)
        if attrs is None or OP_ATTR not in attrs or SCHEDULED_ATTR in attrs:
            continue
        op = str(attrs[OP_ATTR])
        if op in ("conv2d", "fully_connected", "depthwise_conv2d"):
            new = blocked_kernel(func, op)
            if new is not None:
                updates[gv] = new
    if updates:
        mod = mod.clone()
        for gv, func in updates.items():
            mod.update_func(gv, func)
    return apply_dsp(mod)


def with_blocked_header(source: str) -> str:
    """Kernel C with dsp_blocked.h included where it calls it, without TVM's prototypes of the calls;
    depthwise calls are statements (TVM emits them so) of the header's UTVM_BLK_DW_CALL."""
    names = f"{MATMUL}|{FC}|{CONV}|{DEPTHWISE}|{RQ_UNPACK}"
    if not re.search(rf"\b({names})\(", source):
        return source
    prototype = rf'(#ifdef __cplusplus\nextern "C"\n#endif\n)?TVM_DLL int32_t ({names})\([^;{{}}]*\);\n'
    # Depthwise calls expanded in place, each with its layer's literal shapes (UTVM_BLK_DW_CALL).
    in_place = f"#define {DEPTHWISE} UTVM_BLK_DW_CALL\n" if re.search(rf"\b{DEPTHWISE}\(", source) else ""
    return f'#include "{HEADER}"\n' + in_place + re.sub(prototype, "", source)
