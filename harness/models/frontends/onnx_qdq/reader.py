"""An ONNX ModelProto as plain data: its constants (initializers and Constant nodes), its graph
inputs and outputs with their static shapes, and its other nodes in topological order, each with
a label that names it in errors ("node 3 (Conv 'conv1')")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.errors import ModelError

QDQ_OPS = ("DequantizeLinear",)  # what makes a model a QDQ model (see is_qdq)


@dataclass
class Node:
    index: int  # in the file's node list
    op_type: str
    name: str
    inputs: list[str]  # "" where an optional input is omitted
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"node {self.index} ({self.op_type} {self.name!r})" if self.name else \
            f"node {self.index} ({self.op_type})"

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attrs.get(name, default)


@dataclass
class Port:
    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy name


@dataclass
class OnnxGraph:
    nodes: list[Node]  # topological order
    consts: dict[str, np.ndarray]
    inputs: list[Port]
    outputs: list[str]
    opset: int


def is_qdq(model: Any) -> bool:
    """Whether the model computes on dequantized int8 tensors: it has a DequantizeLinear. A float
    model whose only quantization is a QuantizeLinear on its output stays a float model."""
    return any(n.op_type in QDQ_OPS and n.domain in ("", "ai.onnx") for n in model.graph.node)


def read(model: Any) -> OnnxGraph:
    from onnx import numpy_helper

    g = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    nodes = []
    for i, n in enumerate(g.node):
        node = Node(i, n.op_type, n.name, list(n.input), list(n.output), _attrs(n))
        if n.domain not in ("", "ai.onnx"):
            raise ModelError(f"{node.label}: operators of domain {n.domain!r} are not supported in QDQ "
                             "models")
        if n.op_type == "Constant":
            consts[n.output[0]] = _constant(node)
        else:
            nodes.append(node)
    inputs = [_port(v) for v in g.input if v.name not in consts]
    return OnnxGraph(_topological(nodes, {p.name for p in inputs} | set(consts)), consts, inputs,
                     [o.name for o in g.output], opset)


def _attrs(n: Any) -> dict[str, Any]:
    from onnx import helper, numpy_helper

    out = {}
    for a in n.attribute:
        value = helper.get_attribute_value(a)
        if hasattr(value, "raw_data") and hasattr(value, "dims"):  # a TensorProto
            value = numpy_helper.to_array(value)
        elif isinstance(value, bytes):
            value = value.decode()
        out[a.name] = value
    return out


def _constant(node: Node) -> np.ndarray:
    for key, dtype in (("value", None), ("value_float", "float32"), ("value_floats", "float32"),
                       ("value_int", "int64"), ("value_ints", "int64")):
        if key in node.attrs:
            return np.asarray(node.attrs[key], dtype=dtype)
    raise ModelError(f"{node.label}: only tensor, float and int constants are supported")


def _port(v: Any) -> Port:
    from onnx import helper

    t = v.type.tensor_type
    if not v.type.HasField("tensor_type"):
        raise ModelError(f"model input {v.name!r} is not a tensor")
    dims = []
    for d in t.shape.dim:
        if not d.HasField("dim_value") or d.dim_value <= 0:
            raise ModelError(f"model input {v.name!r} has a dynamic shape "
                             f"{[x.dim_param or x.dim_value for x in t.shape.dim]}: a device graph needs "
                             "every shape fixed")
        dims.append(int(d.dim_value))
    return Port(v.name, tuple(dims), np.dtype(helper.tensor_dtype_to_np_dtype(t.elem_type)).name)


def _topological(nodes: list[Node], available: set[str]) -> list[Node]:
    """The nodes in an order where every input is produced before it is read (the file's order
    where it already is)."""
    ready = set(available) | {""}
    order: list[Node] = []
    pending = list(nodes)
    while pending:
        rest = []
        for n in pending:
            if all(i in ready for i in n.inputs):
                order.append(n)
                ready.update(n.outputs)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            n = rest[0]
            missing = next(i for i in n.inputs if i not in ready)
            raise ModelError(f"{n.label} reads {missing!r}, which no node, input or initializer produces")
        pending = rest
    return order
