"""The host side of the device's graph executor module (utvm.graph.create)."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from harness.models.compile.graph import Graph
from harness.rpc.client import RemoteModule, RPCClient


class GraphModule:
    """set_input / run / get_output on the device, with numpy arrays."""

    CREATE = "utvm.graph.create"  # the device's global that makes the executor module

    def __init__(self, client: RPCClient, graph: Graph) -> None:
        self.client = client
        self.graph = graph
        self.module: RemoteModule = client.get_function(self.CREATE)()

    def _spec(self, ids: list[int], key: int | str) -> Any:
        if isinstance(key, str):
            names = [self.graph.tensors[i].name for i in ids]
            if key not in names:
                raise KeyError(f"no tensor named {key!r}; the graph has {names}")
            key = names.index(key)
        return self.graph.tensors[ids[key]]

    def _key(self, ids: list[int], key: int | str) -> int | str:
        """How the device names input or output `key`: the graph executor knows the names."""
        return key

    def set_input(self, key: int | str, value: np.ndarray) -> None:
        spec = self._spec(self.graph.inputs, key)
        array = np.asarray(value, dtype=spec.dtype).reshape(spec.shape)
        with self.client.tensor(array) as t:
            self.module["set_input"](self._key(self.graph.inputs, key), t)

    def run(self) -> None:
        self.module["run"]()

    def get_output(self, key: int | str) -> np.ndarray:
        spec = self._spec(self.graph.outputs, key)
        with self.client.empty(spec.shape, spec.dtype) as t:
            self.module["get_output"](self._key(self.graph.outputs, key), t)
            return t.numpy()

    @property
    def num_inputs(self) -> int:
        return int(self.module["get_num_inputs"]())

    @property
    def num_outputs(self) -> int:
        return int(self.module["get_num_outputs"]())

    def profile(self) -> list[tuple[str, float]]:
        """Seconds per node of one run, with the node's kernel name."""
        blob = self.module["profile"]()
        times = struct.unpack(f"<{len(blob) // 8}d", blob)
        return [(n.func, t) for n, t in zip(self.graph.nodes, times, strict=True)]

    def stats(self) -> dict[str, int]:
        return json.loads(self.module["stats"]())

    def time_run(self, repeat: int, number: int = 1) -> list[float]:
        """Seconds per run, measured on the device (runtime.RPCTimeEvaluator on `run`)."""
        with self.client.time_evaluator("run", module=self.module, number=number, repeat=repeat) as te:
            return te()

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        for i, x in enumerate(inputs):
            self.set_input(i, x)
        self.run()
        return [self.get_output(i) for i in range(len(self.graph.outputs))]
