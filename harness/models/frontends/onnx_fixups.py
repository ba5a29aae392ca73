"""ONNX nodes rewritten before TVM's ONNX frontend sees them, where it gets them wrong or cannot
take them (tvm.relax.frontend.onnx in apache-tvm 0.27). One rewriter per operator type, each
returning the nodes that replace the node (or None to keep it):

- Split: one Slice per output. The device graph runs single-output kernels, and TVM lowers a
  Split into one kernel with a tuple of outputs.
- Slice of opsets 1-9 (starts/ends/axes as attributes): the input form of opset 10, which is the
  only one the frontend reads.
- PRelu of opsets 1-6 with one slope per channel (shape [C]): that slope meant channel (axis 1);
  it is reshaped to [C, 1, ...] so that numpy broadcasting (opset 7) means the same.
- an Expand to a shape that is a model input is refused, saying so.
- a model with string inputs or outputs is refused (TVM says "unknown dtype `object`").
- SequenceLength of a sequence whose length follows from the graph: that constant.
- SequenceInsert at a negative position: ONNX counts it from the back (-1 inserts before the
  last tensor); the frontend put it one place later. The position becomes the non-negative one
  where the sequence's length is known here, else the model is refused.

The original model is what the reference runtime runs, so a rewrite that changed the meaning
would show as a difference, never pass silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from harness.errors import ModelError

Rewriter = Callable[["Fixer", Any], "list[Any] | None"]
REWRITERS: dict[str, Rewriter] = {}


def rewrites(op_type: str) -> Callable[[Rewriter], Rewriter]:
    def register(f: Rewriter) -> Rewriter:
        REWRITERS[op_type] = f
        return f

    return register


class Fixer:
    """The model being rewritten: its opset, constants, tensor shapes and sequence lengths."""

    def __init__(self, model: Any) -> None:
        import onnx
        from onnx import numpy_helper

        self.model = model
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        self.constants = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        self.seq_lengths: dict[str, int] = {}
        self._names = 0
        try:
            inferred = onnx.shape_inference.infer_shapes(model)
            infos = [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]
        except Exception:  # shapes only help; the frontend reports a broken model itself
            infos = []
        self.ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in infos
                      if v.type.HasField("tensor_type") and v.type.tensor_type.HasField("shape")}
        self.dims = {v.name: [d.dim_value if d.HasField("dim_value") else None
                              for d in v.type.tensor_type.shape.dim] for v in infos
                     if v.type.HasField("tensor_type") and v.type.tensor_type.HasField("shape")}

    def constant(self, value: np.ndarray, hint: str) -> str:
        from onnx import numpy_helper

        self._names += 1
        name = f"utvm_fix_{self._names}_{hint}"
        tensor = numpy_helper.from_array(np.asarray(value), name)
        self.model.graph.initializer.append(tensor)
        if self.model.ir_version < 4:  # an initializer was also a graph input then
            from onnx import helper

            self.model.graph.input.append(helper.make_tensor_value_info(name, tensor.data_type, value.shape))
        self.constants[name] = np.asarray(value)
        return name


def fix_onnx(model: Any) -> Any:
    """The model with the rewrites above applied (a copy; the original is left as it was)."""
    from onnx import ModelProto, TensorProto

    for value in (*model.graph.input, *model.graph.output):
        if value.type.tensor_type.elem_type == TensorProto.STRING:
            raise ModelError(f"{value.name!r} is a tensor of strings; the device runs numeric tensors only")
    if not any(n.op_type in REWRITERS for n in model.graph.node):
        return model
    copy = ModelProto()
    copy.CopyFrom(model)
    fixer = Fixer(copy)
    nodes = []
    for node in copy.graph.node:
        _track_sequences(fixer, node)
        rewrite = REWRITERS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        nodes.extend((rewrite(fixer, node) if rewrite else None) or [node])
    del copy.graph.node[:]
    copy.graph.node.extend(nodes)
    return copy


def _attr(node: Any, name: str, default: Any = None) -> Any:
    from onnx import helper

    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == name), default)


def _label(node: Any) -> str:
    return f"ONNX node {node.name or node.output[0]!r} ({node.op_type})"


@rewrites("Split")
def _split(fx: Fixer, node: Any) -> list[Any] | None:
    from onnx import helper

    axis = int(_attr(node, "axis", 0))
    sizes = _attr(node, "split")
    if sizes is None and len(node.input) > 1 and node.input[1]:
        sizes = fx.constants.get(node.input[1])
    dims = fx.dims.get(node.input[0])
    if dims is None or dims[axis] is None:
        return None  # the frontend's own verdict
    if sizes is None:
        n = len(node.output)
        if dims[axis] % n:
            return None
        sizes = [dims[axis] // n] * n
    axis = axis % len(dims)
    out, start = [], 0
    for name, size in zip(node.output, [int(s) for s in sizes], strict=True):
        starts = fx.constant(np.array([start], np.int64), "starts")
        ends = fx.constant(np.array([start + size], np.int64), "ends")
        axes = fx.constant(np.array([axis], np.int64), "axes")
        out.append(helper.make_node("Slice", [node.input[0], starts, ends, axes], [name]))
        start += size
    return out


@rewrites("Slice")
def _slice(fx: Fixer, node: Any) -> list[Any] | None:
    from onnx import helper

    starts = _attr(node, "starts")
    if fx.opset >= 10 or starts is None:
        return None
    ends = _attr(node, "ends")
    axes = _attr(node, "axes", list(range(len(starts))))
    args = [fx.constant(np.array(v, np.int64), k)
            for k, v in (("starts", starts), ("ends", ends), ("axes", axes))]
    return [helper.make_node("Slice", [node.input[0], *args], list(node.output), name=node.name)]


@rewrites("PRelu")
def _prelu(fx: Fixer, node: Any) -> list[Any] | None:
    from onnx import helper

    slope = fx.constants.get(node.input[1])
    rank = fx.ranks.get(node.input[0])
    if fx.opset >= 7 or slope is None or slope.ndim != 1 or slope.size == 1 or not rank or rank < 3:
        return None
    shaped = fx.constant(slope.reshape(slope.size, *([1] * (rank - 2))), "slope")
    return [helper.make_node("PRelu", [node.input[0], shaped], list(node.output), name=node.name)]


@rewrites("SequenceInsert")
def _sequence_insert(fx: Fixer, node: Any) -> list[Any] | None:
    from onnx import helper

    if len(node.input) < 3 or not node.input[2]:
        return None  # appends: the frontend does that right
    position = fx.constants.get(node.input[2])
    if position is None or int(position) >= 0:
        return None
    length = fx.seq_lengths.get(node.input[0])
    if length is None:
        raise ModelError(f"{_label(node)}: a negative position into a sequence whose length is not known "
                         "before it runs is not supported")
    fixed = fx.constant(np.array(length + int(position), position.dtype), "position")
    return [helper.make_node("SequenceInsert", [node.input[0], node.input[1], fixed], list(node.output),
                             name=node.name)]


def _track_sequences(fx: Fixer, node: Any) -> None:
    """The length of each sequence the graph builds, where it follows from the nodes."""
    lengths = fx.seq_lengths
    if node.op_type == "SequenceConstruct":
        lengths[node.output[0]] = len(node.input)
    elif node.op_type == "SequenceEmpty":
        lengths[node.output[0]] = 0
    elif node.op_type == "SplitToSequence":
        length = _split_length(fx, node)
        if length is not None:
            lengths[node.output[0]] = length
    elif node.op_type in ("SequenceErase", "SequenceInsert") and node.input[0] in lengths:
        lengths[node.output[0]] = lengths[node.input[0]] + (1 if node.op_type == "SequenceInsert" else -1)


def _split_length(fx: Fixer, node: Any) -> int | None:
    """How many tensors a SplitToSequence makes, where its input's shape and split are known."""
    dims = fx.dims.get(node.input[0])
    axis = int(_attr(node, "axis", 0))
    if dims is None or not -len(dims) <= axis < len(dims) or dims[axis] is None:
        return None
    split = fx.constants.get(node.input[1]) if len(node.input) > 1 and node.input[1] else None
    if split is None:
        return int(dims[axis])
    if split.ndim == 0:
        return -(-int(dims[axis]) // max(int(split), 1))
    return int(split.size)


@rewrites("SequenceLength")
def _sequence_length(fx: Fixer, node: Any) -> list[Any] | None:
    """A constant where the length is known (the frontend cannot count a SplitToSequence's)."""
    from onnx import helper, numpy_helper

    length = fx.seq_lengths.get(node.input[0])
    if length is None:
        return None
    value = numpy_helper.from_array(np.array(length, np.int64))
    return [helper.make_node("Constant", [], list(node.output), value=value)]


@rewrites("Expand")
def _expand(fx: Fixer, node: Any) -> list[Any] | None:
    """Refused where the target shape is a model input (the frontend's message misleads)."""
    inputs = {i.name for i in fx.model.graph.input} - set(fx.constants)
    if len(node.input) > 1 and node.input[1] in inputs:
        raise ModelError(f"{_label(node)}: its shape is the model input {node.input[1]!r}, known only when "
                         "it runs; a device graph needs every shape fixed")
    return None
