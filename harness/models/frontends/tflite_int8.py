"""`import_tflite`: an int8 .tflite model as a Relax IRModule whose `main` is a straight line of
call_tir into our own int8 PrimFuncs (one converter per operator, harness.models.int8.operators),
with the weights, folded biases and requantization tables as relax constants."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from harness.errors import ModelError
from harness.models.frontends import tflite_reader as reader
from harness.models.int8.dead_channels import eliminate_dead_channels
from harness.models.int8.emit import Context, named_errors, tensor_type
from harness.models.int8.operators import CONVERTERS
from harness.models.int8.tflite_model import Operator, TFLiteModel


def import_tflite(source: TFLiteModel | bytes) -> tuple[Any, None]:
    """A parsed model (or a flatbuffer's bytes) as (IRModule, None): the model's `main` takes and
    returns int8 tensors (float32 where the model quantizes its input or dequantizes its output);
    its constants are inside the module, so there are no separate parameters. Output channels
    whose weights are all zero are folded into their consumers first, where that is exact
    (harness.models.int8.dead_channels)."""
    model = source if isinstance(source, TFLiteModel) else reader.parse(bytes(source))
    reader.check_int8(model, CONVERTERS)
    return _build(eliminate_dead_channels(model), CONVERTERS), None


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


def _identifier(name: str, index: int) -> str:
    cleaned = re.sub(r"\W", "_", name).strip("_")
    return cleaned if cleaned and not cleaned[0].isdigit() else f"input_{index}"
