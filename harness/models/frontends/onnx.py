"""ONNX models: parsed with the onnx package; a quantized one in QDQ form goes to our int8 kernels
(onnx_qdq), a float one through TVM's ONNX frontend (tvm.relax.frontend.onnx)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import ModelError


def parse_onnx(path: Path) -> Any:
    """The ModelProto of an ONNX file; a ModelError where it cannot be read."""
    try:
        import onnx
    except ImportError:
        raise ModelError("reading ONNX models needs the onnx package (pip install onnx)") from None
    try:
        return onnx.load(str(path))
    except (OSError, ValueError, onnx.onnx_cpp2py_export.checker.ValidationError) as exc:  # type: ignore[attr-defined]
        raise ModelError(f"cannot read ONNX model {path}: {exc}") from None
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ModelError(f"cannot read ONNX model {path}: {type(exc).__name__}: {exc}") from None


def import_onnx(model: Any, path: Path) -> Any:
    """The IRModule of a parsed ONNX model: int8 kernels for QDQ, TVM's frontend for float."""
    from harness.models.frontends.onnx_qdq import import_qdq, is_qdq

    if is_qdq(model):  # int8 kernels, never TVM's float frontend
        return import_qdq(model)
    from tvm.relax.frontend.onnx import from_onnx

    from harness.models.frontends.errors import converting
    from harness.models.frontends.native_log import quietly
    from harness.models.frontends.onnx_fixups import fix_onnx

    model = fix_onnx(model)  # what TVM's frontend gets wrong or cannot take, rewritten or refused
    what = f"cannot import ONNX model {path}"
    return quietly(lambda: converting(what, from_onnx, model, keep_params_in_input=False), ModelError, what)
