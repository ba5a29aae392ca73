"""Packed weights for the batch-1 fully-connected call (crt/include/utvm/dsp_blocked_fcp.h): on cores
that take the SMLAD path, a layer's weights and bias are stored the way its inner loop reads them
(each pair of k as one int16 halfword, four rows interleaved per word, the bias corrected), the same
number of bytes; every other build keeps them in file order. The parameter tables hold both forms
under `#if UTVM_BLK_FCP_PACKED` (utvm/dsp_fcp_layout.h), so each image has one of them and the
generated C does not depend on the target.

    pack_fully_connected(kernels, graph)   # after the graph is extracted, before its C is emitted

A blocked FULLY_CONNECTED kernel (harness.models.compile.blocked: utvm_blk_fc_call) whose weights
and bias are constants of its call alone, and whose pairs all pack (no w0 = -128 with w1 < 0), calls
utvm_blk_fc_call with `packed` 1 and its tensors carry the packed bytes (TensorInfo.packed); any
other kernel is left as it is. `utvm tune` measures a blocked fully-connected candidate the same way
(kernel_packs, blocked.packed_fc_kernel; the bytes a target's build keeps: packs_on).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from harness.build.macros import header_macros
from harness.models.compile import blocked
from harness.models.compile.graph import Graph, Node
from harness.models.compile.lowering import replace_funcs
from harness.targets import Target

LAYOUT_HEADER = "utvm/dsp_fcp_layout.h"
LAYOUT_MACRO = "UTVM_BLK_FCP_PACKED"
Pair = tuple[np.ndarray, np.ndarray]  # a layer's (weights, bias)


def pack(w: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(packed weights, packed bias) of a [channels, k] int8 weight matrix and its int32 bias, as
    utvm_blk_fcp_pack makes them; None if a pair cannot be packed."""
    channels, k = w.shape
    groups, full = k // 4, channels // 4 * 4
    blocks = w[:full, :4 * groups].astype(np.int32).reshape(full // 4, 4, groups, 2, 2)  # block, row, group
    w0, w1 = blocks[..., 0], blocks[..., 1]
    if np.any((w0 == -128) & (w1 < 0)):
        return None
    halves = np.stack([w1, w0 - (w1 < 0)], axis=-1)  # low byte, high byte of P = 256 w0 + w1
    words = halves.reshape(full // 4, 4, groups, 4).transpose(0, 2, 1, 3)  # block, group, row, byte
    tails = w[:full, 4 * groups:].reshape(-1)
    packed = np.concatenate([words.reshape(-1).astype(np.int8), tails, w[full:].reshape(-1)]).reshape(w.shape)
    correction = np.zeros(channels, np.int64)
    correction[:full] = 127 * w0.sum(axis=(2, 3)).reshape(-1)
    wrapped = (bias.astype(np.int64) + correction + 2**31) % 2**32 - 2**31
    return packed.astype(np.int8), wrapped.astype(np.int32).reshape(bias.shape)


def _node_pack(graph: Graph, node: Node, uses: Counter[int]) -> Pair | None:
    w, b = (graph.tensors[t] for t in node.args[1:3])
    if w.kind != "param" or b.kind != "param" or uses[w.id] != 1 or uses[b.id] != 1:
        return None
    if w.data is None or b.data is None or w.data.dtype != np.int8 or b.data.dtype != np.int32:
        return None
    if w.data.ndim != 2 or b.data.size != w.data.shape[0]:
        return None
    return pack(w.data, b.data.reshape(-1))


def kernel_packs(graph: Graph, name: str, uses: Counter[int] | None = None) -> list[Pair] | None:
    """(packed weights, packed bias) of each node calling kernel `name`, or None when one of them does
    not pack (the kernel then keeps its weights in file order); `uses`: how often each tensor is an
    argument (default: counted in `graph`)."""
    uses = graph.arg_uses() if uses is None else uses
    packs = [_node_pack(graph, n, uses) for n in graph.nodes if n.func == name]
    if not packs or any(p is None for p in packs):
        return None
    return [p for p in packs if p is not None]


def packs_on(target: Target) -> bool:
    """Whether the target's build keeps the packed form (UTVM_BLK_FCP_PACKED of utvm/dsp_fcp_layout.h,
    preprocessed with the target's kernel flags)."""
    return header_macros(target, LAYOUT_HEADER).get(LAYOUT_MACRO, "0") == "1"


def pack_fully_connected(kernels: Any, graph: Graph) -> Any:
    """`kernels` (an IRModule of the graph's kernels) with the batch-1 blocked calls that pack
    calling the packed form; the graph's weight and bias tensors of those calls get their packed
    bytes."""
    uses, calls = graph.arg_uses(), graph.calls()
    updates = {}
    for gv, func in kernels.functions.items():
        nodes = calls.get(gv.name_hint, [])
        new = blocked.packed_fc_kernel(func) if nodes and type(func).__name__ == "PrimFunc" else None
        packs = kernel_packs(graph, gv.name_hint, uses) if new is not None else None
        if new is None or packs is None:
            continue
        for node, (w, b) in zip(nodes, packs, strict=True):
            graph.tensors[node.args[1]].packed, graph.tensors[node.args[2]].packed = w, b
        updates[gv] = new
    return replace_funcs(kernels, updates)
