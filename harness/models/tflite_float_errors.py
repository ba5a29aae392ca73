"""Which operator TVM's TFLite frontend (tvm.relax.frontend.tflite) failed on: its messages
("Only coupled input-forget LSTM is supported.") do not say, so the failing frame of its
operator loop is read from the traceback and the error names the operator, its index and the
types of its tensors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.errors import last_line
from harness.models.compile import ModelError

_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16", 9: "int8"}


def converting(from_tflite: Callable[[Any], Any], model: Any) -> Any:
    """from_tflite(model); a failure inside its operator loop is a ModelError naming the operator."""
    try:
        return from_tflite(model)
    except Exception as exc:
        label = _failing_operator(exc)
        if label is None:
            raise
        message = f"{label} is not supported by TVM's TFLite frontend: {last_line(exc)}"
    raise ModelError(message)


def _failing_operator(exc: BaseException) -> str | None:
    tb = exc.__traceback__
    found = None
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "convert_op_to_relax" and "op_code_str" in frame.f_locals:
            found = frame.f_locals
        tb = tb.tb_next
    if found is None:
        return None
    op, index, name = found.get("op"), found.get("op_idx"), found.get("op_code_str")
    return f"operator {index} ({name}{_types(found.get('self'), op)})"


def _types(converter: Any, op: Any) -> str:
    """", on float32 tensors" from the converter's subgraph, or "" where it cannot tell."""
    try:
        subgraph = converter.subgraph
        indices = [*op.InputsAsNumpy().tolist(), *op.OutputsAsNumpy().tolist()]
        types = sorted({_NAMES.get(subgraph.Tensors(i).Type(), "other") for i in indices if i >= 0})
    except Exception:  # an operator without tensors, or a frontend that moved its fields
        return ""
    return f", on {' and '.join(types)} tensors" if types else ""
