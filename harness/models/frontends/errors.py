"""Which operator TVM's frontends failed on: their messages ("Only coupled input-forget LSTM is
supported.", "object of type 'Call' has no len()") do not say, so the failing frame of the
frontend's operator loop is read from the traceback and the error names the operator: for TFLite
(tvm.relax.frontend.tflite) its index, code and the types of its tensors, for ONNX
(tvm.relax.frontend.onnx) the node's name and operator type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.errors import ModelError, last_line

_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16", 9: "int8"}


def converting(what: str, frontend: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """frontend(*args, **kwargs); a failure inside its operator loop is a ModelError naming the
    operator, after `what` (other failures propagate as they are)."""
    try:
        return frontend(*args, **kwargs)
    except Exception as exc:
        label = _failing_operator(exc)
        if label is None:
            raise
        message = f"{what}: {label}: {last_line(exc)}" if what else f"{label}: {last_line(exc)}"
    raise ModelError(message)


def _frame(exc: BaseException, function: str, local: str) -> dict[str, Any] | None:
    """The locals of the innermost frame of `function` that has `local`, in exc's traceback."""
    tb, found = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_name == function and local in tb.tb_frame.f_locals:
            found = tb.tb_frame.f_locals
        tb = tb.tb_next
    return found


def _failing_operator(exc: BaseException) -> str | None:
    tflite = _frame(exc, "convert_op_to_relax", "op_code_str")
    if tflite is not None:
        op, index, name = tflite.get("op"), tflite.get("op_idx"), tflite.get("op_code_str")
        types = _types(tflite.get("self"), op)
        return f"operator {index} ({name}{types}) is not supported by TVM's TFLite frontend"
    onnx = _frame(exc, "_construct_nodes", "op_name")
    if onnx is not None:
        name = getattr(onnx.get("node"), "name", "")
        return f"node {name!r} ({onnx['op_name']})" if name else f"a {onnx['op_name']} node"
    return None


def _types(converter: Any, op: Any) -> str:
    """", on float32 tensors" from the converter's subgraph, or "" where it cannot tell."""
    try:
        subgraph = converter.subgraph
        indices = [*op.InputsAsNumpy().tolist(), *op.OutputsAsNumpy().tolist()]
        types = sorted({_NAMES.get(subgraph.Tensors(i).Type(), "other") for i in indices if i >= 0})
    except Exception:  # an operator without tensors, or a frontend that moved its fields
        return ""
    return f", on {' and '.join(types)} tensors" if types else ""
