"""Random quantized ONNX (QDQ) cases, written node by node with onnx.helper: int8 inputs, each
operator between DequantizeLinear and QuantizeLinear (weights and biases through their own
DequantizeLinear, per channel or per tensor), an int8 output; one operator or a chain of two or
three, as f(seed, index, size). Compared with onnxruntime's unfused graph within one LSB."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.fuzz.qdq_ops_gen import Builder, Tensor, elementwise_ops

Rng = np.random.Generator
OPSET = 17


@dataclass
class QdqModel:
    """The nodes and initializers of one case; its int8 inputs (name, shape) and output tensor."""

    nodes: list[Any] = field(default_factory=list)
    inits: list[Any] = field(default_factory=list)
    inputs: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    output: tuple[str, tuple[int, ...]] = ("", ())
    ops: list[str] = field(default_factory=list)


def _pads(rng: Rng, k: tuple[int, int]) -> list[int]:
    return [int(rng.integers(0, k[0])), int(rng.integers(0, k[1])),
            int(rng.integers(0, k[0])), int(rng.integers(0, k[1]))] if rng.random() < 0.6 else [0, 0, 0, 0]


def _window(rng: Rng, x: Tensor, dilate: bool) -> tuple[dict[str, Any], tuple[int, int]] | None:
    for _ in range(20):
        k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        s = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        d = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if dilate and rng.random() < 0.4 else (1, 1)
        p = _pads(rng, k)
        out = [(x.shape[2 + i] + p[i] + p[i + 2] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2)]
        if min(out) >= 1:
            attrs = {"kernel_shape": list(k), "strides": list(s), "pads": p}
            if dilate:
                attrs["dilations"] = list(d)
            return attrs, (out[0], out[1])
    return None


def conv(b: Builder, x: Tensor, size: int) -> Tensor | None:
    win = _window(b.rng, x, True) if len(x.shape) == 4 else None
    if win is None:
        return None
    attrs, (oh, ow) = win
    cin = x.shape[1]
    depthwise = b.rng.random() < 0.35
    cout = cin * int(b.rng.choice([1, 1, 2])) if depthwise else int(b.rng.integers(1, size + 1))
    k = attrs.pop("kernel_shape")
    w = b.weights((cout, 1 if depthwise else cin, *k), cout, axis=0)
    bias = b.bias(x.scale, w.scales, cout)
    y = b.node("Conv", [b.dq(x), b.dq_weights(w), bias], kernel_shape=k,
               group=cin if depthwise else 1, **attrs)
    return b.requant(b.activation(y), (1, cout, oh, ow), x.scale * float(np.mean(w.scales)) * k[0] * k[1] * 4)


def gemm(b: Builder, x: Tensor, size: int) -> Tensor | None:
    if len(x.shape) != 2:
        return None
    n, depth = x.shape
    units = int(b.rng.integers(1, 2 * size + 1))
    if b.rng.random() < 0.5:
        trans = int(b.rng.integers(0, 2))
        w = b.weights((units, depth) if trans else (depth, units), units, axis=0 if trans else 1)
        y = b.node("Gemm", [b.dq(x), b.dq_weights(w), b.bias(x.scale, w.scales, units)], transB=trans)
    else:
        w = b.weights((depth, units), units, axis=1)
        y = b.node("MatMul", [b.dq(x), b.dq_weights(w)])
    return b.requant(b.activation(y), (n, units), x.scale * float(np.mean(w.scales)) * depth)


def _pool(op: str) -> Callable[[Builder, Tensor, int], Tensor | None]:
    def gen(b: Builder, x: Tensor, size: int) -> Tensor | None:
        if len(x.shape) != 4:
            return None
        win = _window(b.rng, x, False)
        if win is None:
            return None
        attrs, (oh, ow) = win
        if op == "AveragePool":
            attrs["count_include_pad"] = int(b.rng.integers(0, 2))
        y = b.node(op, [b.dq(x)], **attrs)
        same = op == "MaxPool" or b.rng.random() < 0.5
        return b.requant(y, (1, x.shape[1], oh, ow), x.scale, same_as=x if same else None)
    return gen


def global_pool(b: Builder, x: Tensor, size: int) -> Tensor | None:
    if len(x.shape) != 4:
        return None
    if b.rng.random() < 0.5:
        y = b.node("GlobalAveragePool", [b.dq(x)])
    else:
        y = b.node("ReduceMean", [b.dq(x)], axes=[2, 3], keepdims=1)
    return b.requant(y, (*x.shape[:2], 1, 1), x.scale)


OPS: dict[str, Callable[[Builder, Tensor, int], Tensor | None]] = {
    "Conv": conv,
    "Gemm": gemm,
    "MaxPool": _pool("MaxPool"),
    "AveragePool": _pool("AveragePool"),
    "GlobalAveragePool": global_pool,
    **elementwise_ops(),
}


def _input(b: Builder, size: int, four_d: bool) -> Tensor:
    if four_d:
        shape: tuple[int, ...] = (1, int(b.rng.integers(1, size + 1)),
                                  *(int(d) for d in b.rng.integers(1, size + 2, size=2)))
    else:
        shape = (int(b.rng.integers(1, 4)), int(b.rng.integers(1, 4 * size + 1)))
    return b.model_input(shape)


def make_qdq(seed: int, index: int, size: int = 8, ops: tuple[str, ...] = tuple(OPS)) -> QdqModel:
    """The case (seed, index) at size cap `size`."""
    rng = np.random.default_rng([seed, index, size, 7])
    model = QdqModel()
    b = Builder(rng, model)
    x = _input(b, size, rng.random() < 0.7)
    for _ in range(int(rng.choice([1, 1, 1, 2, 2, 3]))):
        for _attempt in range(8):
            name = str(rng.choice(list(ops)))
            y = OPS[name](b, x, size)
            if y is not None:
                model.ops.append(name)
                x = y
                break
    if not model.ops:  # nothing took this input: a 4-D one takes every operator but Gemm
        return make_qdq(seed, index + 1_000_000, size, ops)
    model.output = (x.name, x.shape)
    return model
