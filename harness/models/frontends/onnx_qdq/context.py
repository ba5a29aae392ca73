"""What a converter of a QDQ model needs: the ONNX graph, the Relax block builder, the value of each
ONNX tensor so far (values.py), and the kernels it emits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from harness.errors import ModelError
from harness.models.frontends.onnx_qdq.reader import Node, OnnxGraph
from harness.models.frontends.onnx_qdq.values import Dequantized, Edge, Pending, QConst, Quantized, Value
from harness.models.int8.emit import const, emit_kernel


class Context:
    def __init__(self, graph: OnnxGraph, bb: Any) -> None:
        self.graph = graph
        self.bb = bb
        self.values: dict[str, Value] = {}
        self._names: set[str] = set()

    def emit(self, node: Node, kind: str, compute: Callable[..., Any], args: Sequence[Any]) -> Any:
        """One int8 kernel for `node` (see harness.models.int8.emit.emit_kernel), named
        kind_<node index>, with a suffix if the node needs several."""
        name = f"{kind}_{node.index}"
        k = 1
        while name in self._names:
            k += 1
            name = f"{kind}_{node.index}_{k}"
        self._names.add(name)
        return emit_kernel(self.bb, name, kind, compute, args, f"t_{name}")

    def value(self, node: Node, i: int) -> Value | None:
        """The value of the node's input i; None where the input is omitted."""
        if i >= len(node.inputs) or node.inputs[i] == "":
            return None
        name = node.inputs[i]
        if name in self.values:
            return self.values[name]
        if name in self.graph.consts:
            return self.graph.consts[name]
        raise ModelError(f"{node.label} reads {name!r} before anything produces it")

    def constant(self, node: Node, i: int, what: str) -> np.ndarray:
        v = self.value(node, i)
        if not isinstance(v, np.ndarray):
            raise ModelError(f"{node.label}: {what} must be a constant, got {describe(v)}")
        return v

    def activation(self, node: Node, i: int, what: str = "input") -> Quantized:
        """Input i as the int8 tensor it dequantizes."""
        v = self.value(node, i)
        if isinstance(v, Dequantized):
            return v.q
        raise ModelError(f"{node.label}: {what} {node.inputs[i]!r} must come from a DequantizeLinear of an "
                         f"int8 activation, got {describe(v)}")

    def quantized_constant(self, node: Node, i: int, what: str) -> QConst:
        v = self.value(node, i)
        if isinstance(v, QConst):
            return v
        raise ModelError(f"{node.label}: {what} {node.inputs[i]!r} must be a DequantizeLinear of an integer "
                         f"constant, got {describe(v)}")

    def operand(self, node: Node, i: int, nhwc: bool, rank: int) -> Quantized:
        """An int8 input of an elementwise operator: an activation (in the layout `nhwc` asks, for a
        4-D result), or a per-tensor quantized constant broadcast against a result of `rank`."""
        v = self.value(node, i)
        if isinstance(v, QConst):
            if not v.per_tensor or v.data.dtype != np.int8:
                raise ModelError(f"{node.label}: constant input {node.inputs[i]!r} needs int8 data and one "
                                 "scale")
            if v.data.ndim > rank:
                raise ModelError(f"{node.label}: constant input {node.inputs[i]!r} has more dimensions than "
                                 "the result")
            data = v.data.reshape((1,) * (rank - v.data.ndim) + v.data.shape)
            if nhwc:  # broadcast in ONNX's NCHW order, so stored in the activations' NHWC
                data = data.transpose(0, 2, 3, 1)
            return Quantized(const(np.ascontiguousarray(data)), tuple(data.shape), float(v.scales.flat[0]),
                             int(v.zero_points.flat[0]))
        q = self.activation(node, i)
        if nhwc and len(q.shape) != 4:
            raise ModelError(f"{node.label}: input {node.inputs[i]!r} of shape {list(q.shape)} against a 4-D "
                             "tensor: only constants broadcast to 4-D activations")
        return self.layout(node, q, nhwc and len(q.shape) == 4)

    def layout(self, node: Node, q: Quantized, nhwc: bool) -> Quantized:
        """q stored NHWC (nhwc=True, 4-D only) or in ONNX order, copied if it is not already."""
        if q.nhwc == nhwc:
            return q
        from harness.models.int8 import qdq as kernels

        value = self.emit(node, "relayout", lambda x: kernels.relayout(
            x, in_shape=q.shape, in_nhwc=q.nhwc, out_shape=q.shape, out_nhwc=nhwc), [q.value])
        return Quantized(value, q.shape, q.scale, q.zero_point, nhwc)


def describe(v: Value | None) -> str:
    """What a value is, for an error message."""
    if v is None:
        return "nothing"
    if isinstance(v, Pending):
        return f"the float result of {v.node.label}, which no QuantizeLinear quantizes"
    if isinstance(v, Edge):
        return f"the {v.dtype} model input itself"
    if isinstance(v, Quantized):
        return "an int8 tensor that no DequantizeLinear reads"
    if isinstance(v, Dequantized):
        return "a dequantized activation"
    if isinstance(v, QConst):
        return f"a dequantized {v.data.dtype} constant"
    return f"a {v.dtype} constant that is not quantized"
