"""The host side of the device's AOT executor module (utvm.aot.create): GraphModule's interface.

The image carries no tensor names, so names are mapped to indices here, from the Graph."""

from __future__ import annotations

from harness.models.deploy.graph_client import GraphModule


class AotModule(GraphModule):
    """set_input / run / get_output / profile on the device's AOT executor, with numpy arrays."""

    CREATE = "utvm.aot.create"

    def _key(self, ids: list[int], key: int | str) -> int | str:
        """The index of input or output `key`: the AOT image has no names."""
        if isinstance(key, str):
            self._spec(ids, key)  # a KeyError naming the graph's tensors if there is no such name
            return [self.graph.tensors[i].name for i in ids].index(key)
        return key

    def get_input_index(self, name: str) -> int:
        return int(self._key(self.graph.inputs, name))

    def __repr__(self) -> str:
        return f"AotModule({len(self.graph.nodes)} calls)"
