"""A fixed graph of kernels: its tensors, a static memory plan, and its C form.

Every tensor but a parameter has a region of one activation pool, shared by tensors whose
lifetimes do not overlap, as X-CUBE-AI plans its pool: a quantized (integer) input lives from the
start of a run to the last kernel that reads it (a run consumes it: set it before each run; a float
input lives all the run), an output from the kernel that writes it to the end of the run (it
outlives the run), an intermediate from its kernel to its last reader. The offsets are the smaller
of two greedy placements (harness.models.compile.pool). Parameters are `const` arrays in a named
flash section and never move.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from harness.build import template
from harness.errors import UtvmError
from harness.models.compile.pool import Interval, place

ALIGN = 64  # bytes; TVM's kernels assume this alignment of tensor data in the arena
# Parameters in flash: 8 bytes is all any kernel's loads need (word and doubleword loads, int64 and
# double elements); 64 cost each small per-channel table up to 63 bytes of padding.
PARAM_ALIGN = 8
DEFAULT_PARAM_SECTION = ".rodata.utvm_params"
_DL_CODES = {"i": 0, "u": 1, "f": 2, "b": 1}  # kDLInt, kDLUInt, kDLFloat; bool is uint8 as in TVM
_KINDS = {"input": 0, "param": 1, "activation": 2, "output": 3}


@dataclass
class TensorInfo:
    id: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    kind: str  # input, param, activation, output
    data: np.ndarray | None = None  # params only
    offset: int = -1  # in the arena; params have none
    scale: float | None = None  # a float output dequantized from int8: its int8 scale (one LSB)
    packed: np.ndarray | None = None  # a param's bytes on the SMLAD path, as long (compile.fc_pack)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass
class Node:
    func: str
    args: list[int]  # tensor ids; the last is the output
    scratch: list[int] = field(default_factory=list)  # args that are the kernel's own scratch (scratch.py)


@dataclass
class Graph:
    tensors: list[TensorInfo]
    nodes: list[Node]
    inputs: list[int]
    outputs: list[int]
    arena_bytes: int = 0
    plan_stats: dict[str, int] = field(default_factory=dict)

    def validate(self) -> None:
        produced = {t.id for t in self.tensors if t.kind in ("input", "param")}
        for i, node in enumerate(self.nodes):
            produced.update(node.scratch)
            missing = [a for a in node.args[:-1] if a not in produced]
            if missing:
                raise UtvmError(f"graph node {i} ({node.func}) reads tensors {missing} before they exist")
            produced.add(node.args[-1])
        if not self.outputs:
            raise UtvmError("the graph has no outputs")

    def plan(self) -> Graph:
        """Assign pool offsets; tensors with disjoint lifetimes share memory."""
        first, last = _lifetimes(self)
        held = [t for t in self.tensors if t.kind != "param"]
        offsets, top = place([Interval(t.id, _aligned(max(t.nbytes, 1)), first[t.id], last[t.id])
                              for t in held])
        for t in held:
            t.offset = offsets[t.id]
        self.arena_bytes = top
        naive = sum(_aligned(max(t.nbytes, 1)) for t in held)
        self.plan_stats = {"arena_bytes": top, "without_reuse": naive,
                           "params_bytes": sum(t.nbytes for t in self.tensors if t.kind == "param")}
        return self

    def calls(self) -> dict[str, list[Node]]:
        """Each kernel's nodes, in order."""
        found: dict[str, list[Node]] = defaultdict(list)
        for node in self.nodes:
            found[node.func].append(node)
        return found

    def arg_uses(self) -> Counter[int]:
        """How often each tensor is a node's argument."""
        return Counter(a for n in self.nodes for a in n.args)

    def drop_unused_params(self) -> Graph:
        """Without the parameters no node reads (e.g. a table harness.models.compile.rq_pack folded
        into another); the other tensors renumbered in order."""
        read = {a for n in self.nodes for a in n.args}
        kept = [t for t in self.tensors if t.kind != "param" or t.id in read]
        if len(kept) == len(self.tensors):
            return self
        new = {t.id: i for i, t in enumerate(kept)}
        for i, t in enumerate(kept):
            t.id = i
        self.tensors = kept
        for n in self.nodes:
            n.args, n.scratch = [new[a] for a in n.args], [new[a] for a in n.scratch]
        self.inputs, self.outputs = [new[t] for t in self.inputs], [new[t] for t in self.outputs]
        self.plan_stats["params_bytes"] = sum(t.nbytes for t in kept if t.kind == "param")
        return self

    def to_json(self) -> str:
        return json.dumps({
            "tensors": [{"id": t.id, "name": t.name, "shape": list(t.shape), "dtype": t.dtype, "kind": t.kind,
                         "offset": t.offset, **({"scale": t.scale} if t.scale else {})}
                        for t in self.tensors],
            "nodes": [{"func": n.func, "args": n.args, **({"scratch": n.scratch} if n.scratch else {})}
                      for n in self.nodes],
            "inputs": self.inputs, "outputs": self.outputs, "arena_bytes": self.arena_bytes,
            "plan": self.plan_stats}, indent=1)

    def to_c(self, section: str = DEFAULT_PARAM_SECTION) -> str:
        return _emit_c(self, section)


def _aligned(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _lifetimes(g: Graph) -> tuple[dict[int, int], dict[int, int]]:
    """The first and last node at which each tensor but a parameter must hold its data: an input from
    node 0 to its last reader (all the run, if it is an output too or a float), an output from its
    writer to past the last node, an intermediate from its writer to its last reader."""
    end = len(g.nodes)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for i, node in enumerate(g.nodes):
        for a in node.scratch:
            first[a] = i
        for a in node.args[:-1]:
            last[a] = i
        first.setdefault(node.args[-1], i)
        last.setdefault(node.args[-1], i)
    for t in g.tensors:
        if t.kind == "input":
            first[t.id] = 0
            last[t.id] = end if t.id in g.outputs or not _consumed(t) else last.get(t.id, 0)
        elif t.kind == "output":
            first.setdefault(t.id, 0)
            last[t.id] = end
    return first, last


def _consumed(t: TensorInfo) -> bool:
    """Whether a run may reuse an input's bytes once read: a quantized input (integer), as X-CUBE-AI's
    pool does. A float input keeps them, so runs repeated on one input compute, and on a core without
    an FPU take, the same (software float's time depends on the data)."""
    return np.dtype(t.dtype).kind in "iu"


def _c_string(s: str) -> str:
    return json.dumps(s)  # a JSON string literal is a valid C string literal for ASCII names


def _dtype_c(dtype: str) -> str:
    dt = np.dtype(dtype)
    if dt.kind not in _DL_CODES:
        raise UtvmError(f"dtype {dtype} has no DLPack code on the device")
    bits = 8 if dt.kind == "b" else dt.itemsize * 8
    return f"{{{_DL_CODES[dt.kind]}, {bits}, 1}}"


def _bytes_c(data: np.ndarray) -> str:
    raw = np.ascontiguousarray(data).tobytes()
    rows = [", ".join(f"0x{b:02x}" for b in raw[i:i + 16]) for i in range(0, len(raw), 16)]
    return ",\n  ".join(rows) or "0"


def param_array(t: TensorInfo, section: str) -> str:
    """A param's const array; one with packed bytes holds both forms, the build keeping one
    (UTVM_BLK_FCP_PACKED of utvm/dsp_fcp_layout.h: layout_include)."""
    assert t.data is not None
    body = _bytes_c(t.data)
    if t.packed is not None:
        body = f"#if UTVM_BLK_FCP_PACKED\n  {_bytes_c(t.packed)}\n#else\n  {body}\n#endif"
    return (f'static const uint8_t k_param_{t.id}[] __attribute__((section("{section}"), '
            f"aligned({PARAM_ALIGN}))) = {{\n  {body}\n}};")


def layout_include(tensors: list[TensorInfo]) -> list[str]:
    """The header that says which form a build keeps, where any param has two."""
    return ['#include "utvm/dsp_fcp_layout.h"'] if any(t.packed is not None for t in tensors) else []


def _emit_c(g: Graph, section: str) -> str:
    if any(t.offset < 0 for t in g.tensors if t.kind != "param"):
        raise UtvmError("plan() the graph before emitting C")
    out = layout_include(g.tensors)
    for t in g.tensors:
        out.append(f"static const int64_t k_shape_{t.id}[] = {{{', '.join(map(str, t.shape)) or '0'}}};")
        if t.kind == "param":
            out.append(param_array(t, section))
    out.append("static const utvm_graph_tensor_t k_tensors[] = {")
    for t in g.tensors:
        data = f"k_param_{t.id}" if t.kind == "param" else "0"
        out.append(f"  {{{_c_string(t.name)}, k_shape_{t.id}, {len(t.shape)}, {_dtype_c(t.dtype)}, "
                   f"{_KINDS[t.kind]}, {max(t.offset, 0)}u, {data}}},")
    out.append("};")
    args = [a for n in g.nodes for a in n.args]
    out.append(f"static const uint32_t k_args[] = {{{', '.join(map(str, args)) or '0'}}};")
    out.append("static const utvm_graph_node_t k_nodes[] = {")
    at = 0
    for n in g.nodes:
        out.append(f"  {{{_c_string(n.func)}, {at}u, {len(n.args)}u}},")
        at += len(n.args)
    out.append("};")
    out.append(f"static const uint32_t k_inputs[] = {{{', '.join(map(str, g.inputs)) or '0'}}};")
    out.append(f"static const uint32_t k_outputs[] = {{{', '.join(map(str, g.outputs))}}};")
    return template.fill("graph_model.c", tables="\n".join(out), num_tensors=len(g.tensors),
                         num_nodes=len(g.nodes), num_inputs=len(g.inputs), num_outputs=len(g.outputs),
                         arena_bytes=g.arena_bytes)
