"""Single-operator int8 TFLite models and short chains of them, built with TFLite Micro's own model
editor, to check our kernels against TFLite Micro on cases the MLPerf Tiny models do not reach
(the fuzzer's cases, and the hand-written ones of tests/test_tflite_ops.py).

An activation spec is (shape, scale, zero point); a scale of None makes it a float32 tensor (the
float input of a QUANTIZE or the float output of a DEQUANTIZE). `Chain` strings operators into
one model: each operator's first input is the previous operator's output."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

Activation = tuple[tuple[int, ...], float | None, int]
# data, scales (None: not quantized), quantized axis, and optionally the zero points
Constant = tuple[np.ndarray, list[float] | None, int] | tuple[np.ndarray, list[float], int, list[int]]


def editor() -> tuple[Any, Any]:
    from tflite_micro.tensorflow.lite.micro.compression import model_editor
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return model_editor, schema_py_generated


def _activation(spec: Activation, name: str) -> Any:
    me, fb = editor()
    shape, scale, zp = spec
    if scale is None:
        return me.Tensor(shape=shape, dtype=fb.TensorType.FLOAT32, name=name)
    return me.Tensor(
        shape=shape, dtype=fb.TensorType.INT8, quantization=me.Quantization(scale, zp), name=name
    )


def _constant(spec: Constant, name: str) -> Any:
    me, fb = editor()
    data, scales, axis = spec[0], spec[1], spec[2]
    ttype = fb.TensorType.INT8 if data.dtype == np.int8 else fb.TensorType.INT32
    zps = list(spec[3]) if len(spec) == 4 else [0] * len(scales or [])
    quant = None if scales is None else me.Quantization(scales, zps, axis=axis)
    return me.Tensor(shape=data.shape, dtype=ttype, data=data, quantization=quant, name=name)


@dataclass
class OpModel:
    """One operator: activation inputs, constant inputs after them, its output, its options."""

    opcode: str
    inputs: list[Activation]
    output: Activation
    constants: list[Constant] = field(default_factory=list)
    options: tuple[str, dict[str, Any]] | None = None  # ("SoftmaxOptions", {"beta": 1.0})

    def operator(self, tag: str, first: Any | None) -> tuple[Any, list[Any], Any]:
        """The editor's operator, the model inputs it adds, and its output tensor; `first`
        replaces the first activation input (the previous operator's output in a chain)."""
        me, fb = editor()
        fresh = [_activation(s, f"{tag}in{i}") for i, s in enumerate(self.inputs) if first is None or i > 0]
        acts = fresh if first is None else [first, *fresh]
        consts = [_constant(c, f"{tag}c{i}") for i, c in enumerate(self.constants)]
        out = _activation(self.output, f"{tag}out")
        op = me.Operator(
            opcode=getattr(fb.BuiltinOperator, self.opcode), inputs=[*acts, *consts], outputs=[out]
        )
        if self.options is not None:
            kind, values = self.options
            options = getattr(fb, f"{kind}T")()
            for key, value in values.items():
                setattr(options, key, value)
            op._fb.builtinOptionsType = getattr(fb.BuiltinOptions, kind)
            op._fb.builtinOptions = options
        return op, fresh, out

    def build(self) -> bytes:
        return Chain([self]).build()


@dataclass
class Chain:
    """Operators in a line: the first one's inputs, then every later operator's inputs but the
    first, are the model inputs; the last output is the model output."""

    ops: list[OpModel]

    @property
    def inputs(self) -> list[Activation]:
        return [*self.ops[0].inputs, *(s for op in self.ops[1:] for s in op.inputs[1:])]

    def parts(self, prefix: str = "") -> tuple[list[Any], list[Any], list[Any], Any]:
        """The editor's tensors, model inputs and operators of this chain, and its output tensor;
        `prefix` keeps the tensor names of several chains in one model apart."""
        tensors: list[Any] = []
        inputs: list[Any] = []
        operators = []
        previous = None
        for i, model in enumerate(self.ops):
            tag = f"{prefix}op{i}_" if len(self.ops) > 1 else prefix
            op, fresh, previous = model.operator(tag, previous)
            inputs += fresh
            tensors += [t for t in op.inputs if all(t is not u for u in tensors)] + [previous]
            operators.append(op)
        return tensors, inputs, operators, previous

    def build(self) -> bytes:
        return build_model([self])


def build_model(chains: list[Chain]) -> bytes:
    """One subgraph holding every chain side by side: the model's inputs are the chains' inputs in
    order, its outputs their outputs (several fuzz cases compiled as one model)."""
    me, _ = editor()
    tensors: list[Any] = []
    inputs: list[Any] = []
    operators: list[Any] = []
    outputs: list[Any] = []
    for i, chain in enumerate(chains):
        t, ins, ops, out = chain.parts(f"c{i}_" if len(chains) > 1 else "")
        tensors += t
        inputs += ins
        operators += ops
        outputs.append(out)
    sg = me.Subgraph(tensors=tensors, operators=operators, inputs=inputs, outputs=outputs)
    model = me.Model(subgraphs=[sg])
    model._fb.version = 3
    return bytes(model.build())


def random_inputs(specs: list[Activation], rng: np.random.Generator, spread: int) -> list[np.ndarray]:
    """int8 inputs in [-spread, spread); float32 inputs in about [-spread/8, spread/8], a third of
    them odd multiples of 1/32 (exact halves of a quantization step of 1/16)."""
    out = []
    for shape, scale, _ in specs:
        if scale is None:
            x = rng.uniform(-spread / 8, spread / 8, size=shape)
            halves = (rng.integers(-spread, spread, size=shape) + 0.5) / 16
            out.append(np.where(rng.random(shape) < 0.3, halves, x).astype(np.float32))
        else:
            out.append(rng.integers(-spread, spread, size=shape, dtype=np.int8))
    return out


def tflite_micro_outputs(data: bytes, inputs: list[np.ndarray]) -> np.ndarray:
    from tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(data)
    for i, x in enumerate(inputs):
        interpreter.set_input(x, i)
    interpreter.invoke()
    return interpreter.get_output(0)
