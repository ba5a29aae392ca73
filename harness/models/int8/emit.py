"""`import_tflite`: an int8 .tflite model as a Relax IRModule whose `main` is a straight line of
call_tir into our own int8 PrimFuncs, with the weights, folded biases and requantization
tables as relax constants."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.models.compile import ModelError
from harness.models.tflite import reader
from harness.models.tflite.reader import Operator, Tensor, TFLiteModel
from harness.models.tflite.scalars import materialize_lets
from harness.models.tflite.schedules import OP_ATTR

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


def import_tflite(source: str | Path | bytes) -> tuple[Any, None]:
    """(IRModule, None): the model's `main` takes and returns int8 tensors (float32 where the model
    quantizes its input or dequantizes its output); its constants are inside the module, so
    there are no separate parameters."""
    data = bytes(source) if isinstance(source, bytes | bytearray | memoryview) else _read(Path(source))
    from harness.models.tflite.converters import CONVERTERS

    model = reader.parse(data)
    reader.check_int8(model, CONVERTERS)
    return _build(model, CONVERTERS), None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read TFLite model {path}: {exc.strerror or exc}") from None


def _build(model: TFLiteModel, converters: dict[str, Callable[[Context, Operator], Any]]) -> Any:
    from tvm import relax

    bb = relax.BlockBuilder()
    ctx = Context(model, bb)
    params = []
    for i in model.inputs:
        t = model.tensors[i]
        params.append(relax.Var(_identifier(t.name, i), tensor_type(list(t.shape), t.dtype)))
        ctx.values[i] = params[-1]
    with bb.function("main", params):
        with bb.dataflow():
            for op in model.operators:
                ctx.values[op.outputs[0]] = _convert(converters[op.op], ctx, op)
            missing = [i for i in model.outputs if i not in ctx.values]
            if missing:
                raise ModelError(f"model output tensor {missing[0]} is not computed by any operator")
            outs = [ctx.values[i] for i in model.outputs]
            result = bb.emit_output(outs[0] if len(outs) == 1 else relax.Tuple(outs))
        bb.emit_func_output(result)
    return bb.get()


def _convert(converter: Callable[[Context, Operator], Any], ctx: Context, op: Operator) -> Any:
    """The converter's result; any failure is a ModelError that names the operator."""
    return named_errors(op.label, lambda: converter(ctx, op))


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


def _identifier(name: str, index: int) -> str:
    cleaned = re.sub(r"\W", "_", name).strip("_")
    return cleaned if cleaned and not cleaned[0].isdigit() else f"input_{index}"
