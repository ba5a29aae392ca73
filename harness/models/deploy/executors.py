"""The executors a model's image can carry, by name (`--executor`): what source the graph becomes
and the host-side module that drives it over RPC. `graph` (default): a graph table interpreted by
crt/src/graph/; `aot`: the graph compiled ahead of time into a call table (crt/src/aot/)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.errors import UtvmError
from harness.models.compile import aot
from harness.models.compile.graph import Graph
from harness.models.deploy.aot_client import AotModule
from harness.models.deploy.graph_client import GraphModule
from harness.rpc.client import RPCClient

DEFAULT = "graph"


@dataclass(frozen=True)
class Executor:
    name: str
    source: str  # the generated model source's file name
    emit: Callable[[Graph], str]  # the planned graph as that source (the image's model)
    module: Callable[[RPCClient, Graph], GraphModule]
    footprint: tuple[str, ...]  # its footprint components: code and tables
    parts: str  # what they are, for a report


EXECUTORS = {
    "graph": Executor("graph", "model_graph.c", lambda g: g.to_c(), GraphModule,
                      ("graph executor", "graph table"), "code and RPC module + graph table"),
    "aot": Executor("aot", "model_aot.c", aot.to_c, AotModule, ("aot executor",),
                    "loop, RPC function and call table"),
}


def get_executor(name: str) -> Executor:
    if name not in EXECUTORS:
        raise UtvmError(f"unknown executor {name!r}; expected one of {', '.join(EXECUTORS)}")
    return EXECUTORS[name]
