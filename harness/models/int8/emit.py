"""Kernel emission: one call_tir of a PrimFunc made from an operator's TE compute, tagged with its
kernel kind ("utvm.op") for the default schedules, and the converters' import Context over a
TFLite model (its tensors and the Relax value of each); what the TFLite and ONNX QDQ frontends
share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from harness.errors import ModelError
from harness.models.int8.attrs import OP_ATTR
from harness.models.int8.scalars import materialize_lets
from harness.models.int8.tflite_model import Operator, Tensor, TFLiteModel

OPAQUE = 8  # relax OpPatternKind.kOpaque: FuseOps leaves the kernel alone


class Context:
    """What a converter needs: the model, the block builder, and the Relax value of each tensor."""

    def __init__(self, model: TFLiteModel, bb: Any) -> None:
        self.model = model
        self.bb = bb
        self.values: dict[int, Any] = {}

    def tensor(self, index: int) -> Tensor:
        return self.model.tensors[index]

    def value(self, op: Operator, index: int) -> Any:
        if index in self.values:
            return self.values[index]
        t = self.tensor(index)
        if t.data is None:
            raise ModelError(f"{op.label} reads tensor {index} {t.name!r} before any operator writes it")
        return const(t.data)

    def emit(self, op: Operator, kind: str, compute: Callable[..., Any], args: Sequence[Any]) -> Any:
        """One call_tir of a PrimFunc made from `compute(*placeholders)` (see emit_kernel)."""
        return emit_kernel(self.bb, f"{kind}_{op.index}", kind, compute, args, f"t{op.outputs[0]}")


def emit_kernel(bb: Any, name: str, kind: str, compute: Callable[..., Any], args: Sequence[Any],
                hint: str) -> Any:
    """One call_tir of a PrimFunc `name` made from `compute(*placeholders)` (int32 indices, one
    placeholder per argument), with the "utvm.op" attribute `kind` and an opaque op pattern; its
    result is bound to a variable named `hint`."""
    from tvm import relax, te

    placeholders = []
    for i, arg in enumerate(args):
        ty = _type_of(arg)
        shape = [int(d) for d in ty.shape.values]
        placeholders.append(te.placeholder(shape, str(ty.dtype), name=f"in{i}"))
    out = compute(*placeholders)
    func = materialize_lets(te.create_prim_func([*placeholders, out]).without_attr("global_symbol"))
    func = func.with_attrs({OP_ATTR: kind, "op_pattern": OPAQUE})
    gv = bb.add_func(func, name)
    out_type = tensor_type([int(d) for d in out.shape], str(out.dtype))
    return bb.emit(relax.call_tir(gv, list(args), out_type), name_hint=hint)


def tensor_type(shape: list[int], dtype: str) -> Any:
    """A Relax tensor type (`relax.TensorType` in TVM 0.27, `TensorStructInfo` before)."""
    from tvm import relax

    cls = getattr(relax, "TensorStructInfo", None) or relax.TensorType
    return cls(shape, dtype)


def _type_of(expr: Any) -> Any:
    ty = getattr(expr, "ty", None)
    return ty if ty is not None else expr.struct_info


def const(data: np.ndarray) -> Any:
    from tvm import relax

    return relax.const(np.ascontiguousarray(data))


def named_errors(label: str, convert: Callable[[], Any]) -> Any:
    """convert()'s result; any failure is a one-line ModelError that starts with `label` (the
    operator or node it converts)."""
    try:
        return convert()
    except ModelError as exc:
        message = str(exc)
        raise ModelError(message if message.startswith(label) else f"{label}: {message}") from None
    except Exception as exc:  # TVM refusing a kernel: still one line, still naming the operator
        first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise ModelError(f"{label}: cannot build its int8 kernel: {first[:200]}") from None
