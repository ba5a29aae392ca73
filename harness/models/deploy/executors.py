"""The executors a model's image can carry, by name (`--executor`): the sources the compiled model
becomes and the host-side module that drives it over RPC. `graph` (default): the packed kernels and a
graph table interpreted by crt/src/graph/; `aot`: the kernels' plain C entries and the graph compiled
ahead of time into direct calls (crt/src/aot/)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.errors import UtvmError
from harness.models.compile import aot
from harness.models.compile.graph import Graph
from harness.models.compile.model import Compiled
from harness.models.deploy.aot_client import AotModule
from harness.models.deploy.graph_client import GraphModule
from harness.rpc.client import RPCClient

DEFAULT = "graph"


@dataclass(frozen=True)
class Executor:
    name: str
    sources: Callable[[Compiled], dict[str, str]]  # the image's generated sources: file name -> C
    module: Callable[[RPCClient, Graph], GraphModule]
    footprint: tuple[str, ...]  # its footprint components: code and tables
    parts: str  # what they are, for a report
    packed_kernels: bool = True  # its image registers each kernel (TVM's packed entry) for direct calls


EXECUTORS = {
    "graph": Executor("graph", lambda c: {"kernels.c": c.kernels_c, "model_graph.c": c.graph.to_c()},
                      GraphModule, ("graph executor", "graph table"), "code and RPC module + graph table"),
    "aot": Executor("aot", lambda c: {"kernels.c": c.unpacked().source,
                                      "model_aot.c": aot.to_c(c.graph, c.unpacked().arity)},
                    AotModule, ("aot executor",), "set-up, RPC function and the generated calls",
                    packed_kernels=False),
}


def get_executor(name: str) -> Executor:
    if name not in EXECUTORS:
        raise UtvmError(f"unknown executor {name!r}; expected one of {', '.join(EXECUTORS)}")
    return EXECUTORS[name]
