"""The host side of an AOT image over RPC: GraphModule's interface over the one function of the image's
system library that runs the model (`utvm_aot_image_run`, crt/src/aot/aot_rpc.c).

The device keeps no state: the inputs, the outputs and the workspace are tensors this module allocates
on the device and passes to every run, so set_input and get_output are plain tensor copies and the
run is timed by the time evaluator like a kernel. The image carries no tensor names: names are mapped
to indices here, from the Graph."""

from __future__ import annotations

import numpy as np

from harness.models.compile.aot import ALIGN, IMAGE_FUNCTION
from harness.models.compile.graph import Graph
from harness.models.deploy.graph_client import GraphModule
from harness.rpc.client import RemoteTensor, RPCClient


class AotModule(GraphModule):
    """set_input / run / get_output / profile of the device's AOT model, with numpy arrays."""

    FUNCTION = IMAGE_FUNCTION

    def __init__(self, client: RPCClient, graph: Graph) -> None:
        self.client = client
        self.graph = graph
        self.runs = 0  # runs started through run() and profile()
        self.function = client.system_lib()[self.FUNCTION]
        specs = [graph.tensors[t] for t in [*graph.inputs, *graph.outputs]]
        self.io: list[RemoteTensor] = [self._empty(s.shape, s.dtype) for s in specs]
        self.workspace = self._empty((max(graph.arena_bytes, 1),), "uint8")
        self.times = self._empty((max(len(graph.nodes), 1),), "float64")

    def _empty(self, shape: tuple[int, ...], dtype: str) -> RemoteTensor:
        """A device tensor aligned as the plan's regions are (the kernels' 64 bytes)."""
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        return RemoteTensor(self.client, self.client.alloc(max(nbytes, 1), ALIGN), shape, np.dtype(dtype))

    def _key(self, ids: list[int], key: int | str) -> int | str:
        """The index of input or output `key`: the AOT image has no names."""
        if isinstance(key, str):
            self._spec(ids, key)  # a KeyError naming the graph's tensors if there is no such name
            return [self.graph.tensors[i].name for i in ids].index(key)
        return key

    def get_input_index(self, name: str) -> int:
        return int(self._key(self.graph.inputs, name))

    def _tensor(self, ids: list[int], key: int | str, first: int) -> RemoteTensor:
        index = int(self._key(ids, key))
        if not 0 <= index < len(ids):
            raise IndexError(f"no {'output' if first else 'input'} {index}; the model has {len(ids)}")
        return self.io[first + index]

    def set_input(self, key: int | str, value: np.ndarray) -> None:
        spec = self._spec(self.graph.inputs, key)
        array = np.asarray(value, dtype=spec.dtype).reshape(spec.shape)
        self._tensor(self.graph.inputs, key, 0).copyfrom(array)

    def get_output(self, key: int | str) -> np.ndarray:
        return self._tensor(self.graph.outputs, key, len(self.graph.inputs)).numpy()

    def run(self) -> None:
        self.function(*self.io, self.workspace)
        self.runs += 1

    @property
    def num_inputs(self) -> int:
        return len(self.graph.inputs)

    @property
    def num_outputs(self) -> int:
        return len(self.graph.outputs)

    def profile(self) -> list[tuple[str, float]]:
        """Seconds per call of one run (a timer read after each call), with the call's kernel name."""
        self.function(*self.io, self.workspace, self.times)
        self.runs += 1
        times = self.times.numpy()[: len(self.graph.nodes)]
        return [(n.func, float(t)) for n, t in zip(self.graph.nodes, times, strict=True)]

    def stats(self) -> dict[str, int]:
        """Runs this module started (run, profile), the workspace's bytes and the number of calls."""
        return {"runs": self.runs, "workspace_bytes": self.graph.arena_bytes, "calls": len(self.graph.nodes)}

    def time_run(self, repeat: int, number: int = 1) -> list[float]:
        """Seconds per run, measured on the device (runtime.RPCTimeEvaluator on the model's function)."""
        lib = self.client.system_lib()
        with lib.time_evaluator(self.FUNCTION, number=number, repeat=repeat) as te:
            return te(*self.io, self.workspace)

    def __repr__(self) -> str:
        return f"AotModule({len(self.graph.nodes)} calls)"


__all__ = ["AotModule"]
