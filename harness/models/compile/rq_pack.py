"""Requantization constants stored as narrow as they need to be (crt/include/utvm/dsp_blocked_rqpack.h).

A TFLite int8 layer keeps, per output channel, an int32 bias, and its requantization as an int32 Q31
multiplier and an int8 shift: 9 bytes, where the model file stores 4 (the bias; its scales are
floats in the quantization parameters). X-CUBE-AI's kws01 fits in its constants' bytes. Here, a
blocked convolution, 1x1 convolution or depthwise layer (harness.models.compile.blocked) whose every
call fits stores 6 bytes per channel: the multiplier's 30 low bits with two bits of the shift's offset
in one word, the bias before the input zero point was folded in (15 bits) with the third bit in one
halfword, and the shifts' base and that zero point as literals of the call; the shift table is gone.
The kernel unpacks them into stack buffers (under 1 KB each: at most 255 channels) before its call,
summing each channel's weights again (the folded bias is r - zp * that sum).

    pack_requant(kernels, graph)   # after pack_fully_connected, before the graph's C is emitted

Exact by construction: unpack(pack(t)) == t is checked for every table before it is stored.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.models.compile import blocked
from harness.models.compile.graph import Graph, Node
from harness.models.compile.lowering import replace_funcs

ENTRY = blocked.RQ_UNPACK
MAX_CHANNELS = 255  # each unpacked int32 table under TVM's 1 KB of stack (scratch.MAX_STACK)
PACKED_CALLS = (blocked.CONV, blocked.MATMUL, blocked.DEPTHWISE)
Tables = tuple[np.ndarray, np.ndarray, np.ndarray]  # bias int32, multiplier int32, shift int8
Packed = tuple[np.ndarray, np.ndarray]  # halves int16, words int32


def pack(bias: np.ndarray, mult: np.ndarray, shift: np.ndarray, wsum: np.ndarray, base: int,
         zp: int) -> Packed | None:
    """(halves int16, words int32) of one layer's tables around `base` and `zp` (wsum: each channel's
    weights summed), or None where they do not fit."""
    b, m, s, ws = (np.asarray(a, np.int64).reshape(-1) for a in (bias, mult, shift, wsum))
    offset, r = s - base, b + zp * ws
    if np.any(m < 2**30) or np.any(m >= 2**31) or np.any(r < -(2**14)) or np.any(r >= 2**14):
        return None
    if np.any(offset < 0) or np.any(offset > 7):
        return None
    words = (m - 2**30) | (offset & 3) << 30
    halves = (r & 0x7FFF) | (offset >> 2) << 15
    return halves.astype(np.uint16).view(np.int16), words.astype(np.uint32).view(np.int32)


def unpack(halves: np.ndarray, words: np.ndarray, wsum: np.ndarray, base: int, zp: int) -> Tables:
    """utvm_blk_rq_unpack in numpy (the bias wraps to int32 as the C's does)."""
    w, h = words.view(np.uint32).astype(np.int64), halves.view(np.uint16).astype(np.int64)
    mult = (w & 0x3FFFFFFF) | 2**30
    shift = base + ((w >> 30) | (h >> 15) << 2)
    bias = (((h & 0x7FFF) ^ 0x4000) - 0x4000 - zp * wsum.astype(np.int64) + 2**31) % 2**32 - 2**31
    return bias.astype(np.int32), mult.astype(np.int32), shift.astype(np.int8)


def layout(entry: str, w: np.ndarray) -> tuple[int, int, int]:
    """(k, channel stride, tap stride) of a layer's weights as utvm_blk_rq_unpack walks them."""
    if entry == blocked.DEPTHWISE:  # [1, k_h, k_w, channels]
        return int(np.prod(w.shape[:-1])), 1, int(w.shape[-1])
    k = int(np.prod(w.shape[1:]))  # [channels, ...] rows
    return k, k, 1


def weight_sums(entry: str, w: np.ndarray) -> np.ndarray:
    """Each channel's weights summed."""
    flat = w.astype(np.int64)
    if entry == blocked.DEPTHWISE:
        return flat.reshape(-1, w.shape[-1]).sum(axis=0)
    return flat.reshape(w.shape[0], -1).sum(axis=1)


@dataclass
class Layer:
    """One call's tables, and its weights' sums."""

    tables: Tables
    wsum: np.ndarray


@dataclass
class Found:
    """A call's shift base and zero point (literals of its kernel), and each of its layers' tables."""

    base: int
    zp: int
    packs: list[Packed]


def _layer(graph: Graph, node: Node, entry: str, uses: Counter[int]) -> Layer | None:
    w, *ts = (graph.tensors[a] for a in node.args[1:5])
    if any(t.kind != "param" or t.data is None or uses[t.id] != 1 or t.packed is not None for t in ts):
        return None
    if w.kind != "param" or w.data is None or w.packed is not None or w.data.dtype != np.int8:
        return None
    b, m, s = (t.data for t in ts)
    assert b is not None and m is not None and s is not None
    if (str(b.dtype), str(m.dtype), str(s.dtype)) != ("int32", "int32", "int8"):
        return None
    if not b.size == m.size == s.size:
        return None
    wsum = weight_sums(entry, w.data)
    if b.size > MAX_CHANNELS or wsum.size != b.size:
        return None
    return Layer((b.reshape(-1), m.reshape(-1), s.reshape(-1)), wsum)


def _entry(func: Any) -> str | None:
    """The blocked call of a kernel whose constants could be packed."""
    attrs = func.attrs if type(func).__name__ == "PrimFunc" else None
    entry = str(attrs.get(blocked.BLOCKED_ATTR, "")) if attrs is not None else ""
    params = list(func.params)
    if entry not in PACKED_CALLS or len(params) < 6:
        return None
    return entry if [str(p.dtype) for p in params[1:5]] == ["int8", "int32", "int32", "int8"] else None


def _round_trips(packed: Packed, layer: Layer, base: int, zp: int) -> bool:
    back = unpack(*packed, layer.wsum, base, zp)
    return all(np.array_equal(a, b) for a, b in zip(back, layer.tables, strict=True))


def _zero_point(layers: list[Layer]) -> int | None:
    """A zero point (smallest first) at which every layer's r = bias + zp * wsum fits 15 bits."""
    zps = np.arange(-128, 128)
    bias = np.concatenate([la.tables[0] for la in layers]).astype(np.int64)
    wsum = np.concatenate([la.wsum for la in layers])
    r = bias[None, :] + zps[:, None] * wsum[None, :]
    ok = np.all((r >= -(2**14)) & (r < 2**14), axis=1)
    fitting = sorted(zps[ok].tolist(), key=abs)
    return fitting[0] if fitting else None


def _packs(graph: Graph, nodes: list[Node], entry: str, uses: Counter[int]) -> Found | None:
    """The call's (base, zp) and each node's (halves, words), or None if one node's tables do not fit."""
    found = [_layer(graph, n, entry, uses) for n in nodes]
    layers = [la for la in found if la is not None]
    if not layers or len(layers) != len(found):
        return None
    zp = _zero_point(layers)
    if zp is None:
        return None
    base = min(int(la.tables[2].min()) for la in layers)
    packs = []
    for la in layers:
        packed = pack(*la.tables, la.wsum, base, zp)
        if packed is None or not _round_trips(packed, la, base, zp):
            return None
        packs.append(packed)
    return Found(base, zp, packs)


def packed_kernel(func: Any, entry: str, base: int, zp: int) -> Any | None:
    """The blocked kernel `func` taking (halves int16, words int32) for (bias, multiplier, shift):
    it unpacks them into stack buffers and makes its call on those. None where its call does not
    read the three tables by their parameters' names."""
    import tvm
    from tvm.script import tirx as T

    params = list(func.params)
    w, bias, mult, shift = (str(p.name) for p in params[1:5])
    channels = int(params[2].shape[0])
    k, channel_stride, tap_stride = layout(entry, np.empty([int(d) for d in params[1].shape], np.int8))
    script = func.script()
    wide = f'{bias}: T.Buffer(({channels},), "int32")'
    script, narrowed = re.subn(re.escape(wide), wide.replace("int32", "int16"), script, count=1)
    script, dropped = re.subn(rf', {shift}: T\.Buffer\(\({channels},\), "int8"\)', "", script, count=1)
    call = f"{bias}.data, {mult}.data, {shift}.data"
    if narrowed != 1 or dropped != 1 or script.count(call) != 1:  # TVMScript names a buffer otherwise
        return None  # (e.g. `in2.source`): the tables stay wide
    script = script.replace(call, "rq_bias.data, rq_mult.data, rq_shift.data")
    unpack_lines = [
        f'    rq_bias = T.alloc_buffer(({channels},), "int32")',
        f'    rq_mult = T.alloc_buffer(({channels},), "int32")',
        f'    rq_shift = T.alloc_buffer(({channels},), "int8")',
        f'    T.call_extern("int32", "{ENTRY}", {bias}.data, {mult}.data, {w}.data, {base}, {zp}, '
        f"{channels}, {k}, {channel_stride}, {tap_stride}, rq_bias.data, rq_mult.data, rq_shift.data)"]
    lines = script.split("\n")
    at = next(i for i, line in enumerate(lines) if "T.func_attr(" in line) + 1
    return tvm.script.from_source("\n".join([*lines[:at], *unpack_lines, *lines[at:]]), extra_vars={"T": T})


def _store(graph: Graph, node: Node, halves: np.ndarray, words: np.ndarray) -> None:
    bias, mult = graph.tensors[node.args[2]], graph.tensors[node.args[3]]
    bias.data, bias.dtype = halves, "int16"
    mult.data = words
    del node.args[4]  # the shift table: in the words and the call's base


def pack_requant(kernels: Any, graph: Graph) -> Any:
    """`kernels` with every blocked call whose layers all fit taking its constants packed; those
    layers' tables hold the packed bytes, their shift tables dropped from the graph."""
    uses, calls = graph.arg_uses(), graph.calls()
    updates = {}
    for gv, func in kernels.functions.items():
        nodes, entry = calls.get(gv.name_hint, []), _entry(func)
        found = _packs(graph, nodes, entry, uses) if nodes and entry is not None else None
        if found is None or entry is None:
            continue
        new = packed_kernel(func, entry, found.base, found.zp)
        if new is None:
            continue
        updates[gv] = new
        for node, (halves, words) in zip(nodes, found.packs, strict=True):
            _store(graph, node, halves, words)
    if updates:
        graph.drop_unused_params()
    return replace_funcs(kernels, updates)
