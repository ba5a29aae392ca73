"""Single-operator int8 TFLite models, built with TFLite Micro's own model editor, to check our
kernels against TFLite Micro on cases the MLPerf Tiny models do not reach (SAME average pooling,
broadcasting ADD, depth multipliers, dilation, left-shifting multipliers, per-channel FC...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _editor() -> tuple[Any, Any]:
    from tflite_micro.tensorflow.lite.micro.compression import model_editor
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return model_editor, schema_py_generated


@dataclass
class OpModel:
    """One operator: int8 activation inputs (shape, scale, zero point), constant inputs, options."""

    opcode: str
    inputs: list[tuple[tuple[int, ...], float, int]]
    output: tuple[tuple[int, ...], float, int]
    constants: list[tuple[np.ndarray, list[float] | None, int]] = field(
        default_factory=list
    )  # data, scales, axis
    options: tuple[str, dict[str, Any]] | None = None  # ("SoftmaxOptions", {"beta": 1.0})

    def build(self) -> bytes:
        me, fb = _editor()
        tensors = [
            me.Tensor(shape=s, dtype=fb.TensorType.INT8, quantization=me.Quantization(sc, zp), name=f"in{i}")
            for i, (s, sc, zp) in enumerate(self.inputs)
        ]
        consts = []
        for i, (data, scales, axis) in enumerate(self.constants):
            ttype = fb.TensorType.INT8 if data.dtype == np.int8 else fb.TensorType.INT32
            quant = None if scales is None else me.Quantization(scales, [0] * len(scales), axis=axis)
            consts.append(
                me.Tensor(shape=data.shape, dtype=ttype, data=data, quantization=quant, name=f"c{i}")
            )
        shape, scale, zp = self.output
        out = me.Tensor(
            shape=shape, dtype=fb.TensorType.INT8, quantization=me.Quantization(scale, zp), name="out"
        )
        op = me.Operator(
            opcode=getattr(fb.BuiltinOperator, self.opcode), inputs=[*tensors, *consts], outputs=[out]
        )
        if self.options is not None:
            kind, values = self.options
            options = getattr(fb, f"{kind}T")()
            for key, value in values.items():
                setattr(options, key, value)
            op._fb.builtinOptionsType = getattr(fb.BuiltinOptions, kind)
            op._fb.builtinOptions = options
        sg = me.Subgraph(tensors=[*tensors, *consts, out], operators=[op], inputs=tensors, outputs=[out])
        model = me.Model(subgraphs=[sg])
        model._fb.version = 3
        return bytes(model.build())


def tflite_micro_outputs(data: bytes, inputs: list[np.ndarray]) -> np.ndarray:
    from tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(data)
    for i, x in enumerate(inputs):
        interpreter.set_input(x, i)
    interpreter.invoke()
    return interpreter.get_output(0)
