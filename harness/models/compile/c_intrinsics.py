"""Lowering rules for TIR intrinsics that TVM's C code generator leaves unresolved: `tirx.fabs`
(ONNX Abs, Softsign, Softplus through TVM's legalization) becomes fabsf/fabs from <math.h>.
Registered once, before kernels are emitted as C."""

from __future__ import annotations

from typing import Any

_DONE: list[bool] = []


def _fabs(op: Any) -> Any:
    from tvm.tirx import call_pure_extern

    dtype = str(op.ty.dtype if getattr(op, "ty", None) is not None else op.dtype)
    if dtype == "float32":
        return call_pure_extern(dtype, "fabsf", *op.args)
    if dtype == "float64":
        return call_pure_extern(dtype, "fabs", *op.args)
    return op


def register() -> None:
    if _DONE:
        return
    from tvm.tirx import register_intrin_lowering

    register_intrin_lowering("tirx.fabs", target="c", f=_fabs, level=99)
    _DONE.append(True)
