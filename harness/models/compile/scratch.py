"""A kernel's scratch in the activation pool: the buffers a kernel would take from the workspace
allocator become parameters of the kernel, and tensors of the graph that live only while that kernel
runs, so the memory plan puts them in the pool's gaps (as X-CUBE-AI plans scratch in its
activation pool) instead of in a workspace beside it.

TVM's C keeps a constant-size buffer under 1 KB on the stack (kMaxStackAlloca) and asks
TVMBackendAllocWorkspace for the rest; `hoist` turns the buffers of a blocked kernel that has one
of 1 KB or more (harness.models.compile.blocked: the widened rows and patches of its one call) into
parameters before its output (same call, same TVM-FFI name), its smaller rows too, so that all of
them are 64-byte aligned as the pool is (on the stack, a patch that newlib's memcpy finds
misaligned with the input is copied byte by byte); a kernel scheduled by a trace keeps its
workspace;
`add_scratch` gives each call of such a kernel its own scratch tensors in the graph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.models.compile.graph import ALIGN, Graph, TensorInfo
from harness.models.int8.attrs import OP_ATTR

MAX_STACK = 1024  # bytes: TVM's kMaxStackAlloca
_ALLOC = re.compile(r'^    (\w+) = T\.(?:sblock_)?alloc_buffer\(\(([\d, ]+)\), "(\w+)"\)\n', re.M)


@dataclass(frozen=True)
class Scratch:
    name: str
    shape: tuple[int, ...]
    dtype: str


def hoist(func: Any, unscheduled: Any) -> tuple[Any, list[Scratch]] | None:
    """The blocked kernel `func` (harness.models.compile.blocked, made from `unscheduled`) with its
    workspace buffers as parameters before the output, and those buffers; None for any other kernel
    or one without such buffers. Made again from the blocked kernel's own TVMScript (TVM's printer
    does not round-trip every kernel), so its body is the blocked call as it was."""
    import tvm
    from tvm.script import tirx as T

    from harness.models.compile import blocked

    attrs = func.attrs if func.attrs is not None else {}
    if blocked.BLOCKED_ATTR not in attrs or OP_ATTR not in attrs:
        return None
    try:
        text = blocked._source(unscheduled, *blocked._call(unscheduled, str(attrs[OP_ATTR])))
    except (ValueError, AttributeError, IndexError, TypeError, KeyError):
        return None
    found = [Scratch(m.group(1), tuple(int(d) for d in m.group(2).replace(" ", "").split(",") if d),
                     m.group(3)) for m in _ALLOC.finditer(text)]
    size = {s.name: int(np.prod(s.shape)) * np.dtype(s.dtype).itemsize for s in found}
    last = f", {unscheduled.params[-1].name}: T.Buffer("
    if max(size.values(), default=0) < MAX_STACK or text.count(last) != 1:
        return None
    found = [s for s in found if size[s.name] >= ALIGN]  # its other rows too: aligned as the pool is
    names = {s.name for s in found}
    text = _ALLOC.sub(lambda m: "" if m.group(1) in names else m.group(0), text)
    params = "".join(f', {s.name}: T.Buffer({s.shape}, "{s.dtype}")' for s in found)
    new = tvm.script.from_source(text.replace(last, params + last), extra_vars={"T": T})
    return new.with_attrs({str(k): v for k, v in attrs.items()}), found


def add_scratch(graph: Graph, scratch: dict[str, list[Scratch]]) -> Graph:
    """The graph with each call of a hoisted kernel given its own scratch tensors (activations that
    live at that call only), before its output; plan() it afterwards."""
    for node in graph.nodes:
        for s in scratch.get(node.func, []):
            tid = len(graph.tensors)
            graph.tensors.append(TensorInfo(tid, f"{node.func}.{s.name}", s.shape, s.dtype, "activation"))
            node.args.insert(len(node.args) - 1, tid)
            node.scratch.append(tid)
    graph.validate()
    return graph
