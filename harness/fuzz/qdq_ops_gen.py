"""The QDQ fuzzer's node builder (DequantizeLinear / QuantizeLinear around each operator, weights
and biases as int8 / int32 initializers) and its elementwise and shape operators: Add, Mul (with
broadcasting), Concat, Pad, Softmax, Sigmoid, Tanh, Reshape, Flatten."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.fuzz.tflite_quant import scale as random_scale
from harness.fuzz.tflite_quant import zero_point

Rng = np.random.Generator


@dataclass(frozen=True)
class Tensor:
    """An int8 activation: its name, NCHW (or 2-D) shape and quantization."""

    name: str
    shape: tuple[int, ...]
    scale: float
    zp: int


@dataclass(frozen=True)
class Weights:
    name: str
    scales: list[float]
    axis: int


class Builder:
    def __init__(self, rng: Rng, model: Any) -> None:
        self.rng, self.model, self.count = rng, model, 0

    def fresh(self, stem: str) -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def const(self, value: np.ndarray, stem: str = "k") -> str:
        from onnx import numpy_helper

        name = self.fresh(stem)
        self.model.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs: Any) -> str:
        from onnx import helper

        out = self.fresh(op.lower())
        self.model.nodes.append(helper.make_node(op, inputs, [out], self.fresh("n"), **attrs))
        return out

    def model_input(self, shape: tuple[int, ...]) -> Tensor:
        name = self.fresh("x")
        self.model.inputs.append((name, shape))
        return Tensor(name, shape, random_scale(self.rng, None), zero_point(self.rng))

    def dq(self, x: Tensor) -> str:
        scale, zp = self.const(np.float32(x.scale)), self.const(np.int8(x.zp))
        return self.node("DequantizeLinear", [x.name, scale, zp])

    def weights(self, shape: tuple[int, ...], channels: int, axis: int) -> Weights:
        high = 2 if self.rng.random() < 0.2 else 128
        w = self.rng.integers(-high + 1, high, size=shape, dtype=np.int8)
        n = channels if self.rng.random() < 0.6 else 1
        scales = [float(np.float32(s)) for s in 10 ** self.rng.uniform(-3, -1, n)]
        return Weights(self.const(w, "w"), scales, axis)

    def dq_weights(self, w: Weights) -> str:
        if len(w.scales) == 1:
            return self.node("DequantizeLinear", [w.name, self.const(np.float32(w.scales[0])),
                                                  self.const(np.int8(0))])
        return self.node("DequantizeLinear", [w.name, self.const(np.array(w.scales, np.float32)),
                                              self.const(np.zeros(len(w.scales), np.int8))], axis=w.axis)

    def bias(self, in_scale: float, scales: list[float], n: int) -> str:
        b = self.const(self.rng.integers(-3000, 3000, size=(n,), dtype=np.int32), "b")
        s = np.array([in_scale * v for v in (scales if len(scales) == n else scales * n)], np.float32)
        return self.node("DequantizeLinear", [b, self.const(s), self.const(np.zeros(n, np.int32))], axis=0)

    def activation(self, y: str) -> str:
        r = self.rng.random()
        if r < 0.2:
            return self.node("Relu", [y])
        if r < 0.35:
            return self.node("Clip", [y, self.const(np.float32(0.0)), self.const(np.float32(6.0))])
        return y

    def requant(self, y: str, shape: tuple[int, ...], around: float, same_as: Tensor | None = None) -> Tensor:
        if same_as is not None:
            s, zp = same_as.scale, same_as.zp
        else:
            s, zp = random_scale(self.rng, around), zero_point(self.rng)
        out = self.node("QuantizeLinear", [y, self.const(np.float32(s)), self.const(np.int8(zp))])
        return Tensor(out, shape, s, zp)


Gen = Callable[[Builder, Tensor, int], Tensor | None]


def _broadcast(rng: Rng, shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape if rng.random() < 0.5 else tuple(1 if rng.random() < 0.5 else d for d in shape)


def _binary(op: str) -> Gen:
    def gen(b: Builder, x: Tensor, size: int) -> Tensor:
        other = b.model_input(_broadcast(b.rng, x.shape))
        y = b.activation(b.node(op, [b.dq(x), b.dq(other)]))
        return b.requant(y, x.shape, x.scale * (other.scale * 64 if op == "Mul" else 1))
    return gen


def concat(b: Builder, x: Tensor, size: int) -> Tensor:
    axis = int(b.rng.integers(0, len(x.shape)))
    shapes = [tuple(int(b.rng.integers(1, 4)) if i == axis else d for i, d in enumerate(x.shape))
              for _ in range(int(b.rng.integers(1, 3)))]
    others = [b.model_input(s) for s in shapes]
    out = tuple(d + sum(o.shape[i] for o in others) if i == axis else d for i, d in enumerate(x.shape))
    y = b.node("Concat", [b.dq(x), *(b.dq(o) for o in others)], axis=axis)
    return b.requant(y, out, x.scale)


def pad(b: Builder, x: Tensor, size: int) -> Tensor:
    rank = len(x.shape)
    pads = b.rng.integers(0, 3, size=2 * rank).astype(np.int64)
    if rank == 4:
        pads[[0, 1, 4, 5]] = 0  # N and C (the device's NHWC keeps them)
    out = tuple(int(d + pads[i] + pads[i + rank]) for i, d in enumerate(x.shape))
    y = b.node("Pad", [b.dq(x), b.const(pads), b.const(np.float32(0.0))], mode="constant")
    return b.requant(y, out, x.scale, same_as=x if b.rng.random() < 0.5 else None)


def _unary(op: str, scale: float | None, zp: int = 0) -> Gen:
    def gen(b: Builder, x: Tensor, size: int) -> Tensor:
        attrs = {"axis": -1} if op == "Softmax" else {}
        y = b.node(op, [b.dq(x)], **attrs)
        if scale is not None and b.rng.random() < 0.5:
            fixed = Tensor("", x.shape, scale, zp)
            return b.requant(y, x.shape, scale, same_as=fixed)
        return b.requant(y, x.shape, 1 / 128)
    return gen


def reshape(b: Builder, x: Tensor, size: int) -> Tensor:
    total = int(np.prod(x.shape))
    if len(x.shape) == 4 and b.rng.random() < 0.5:
        y = b.node("Flatten", [b.dq(x)], axis=1)
        out: tuple[int, ...] = (x.shape[0], total // x.shape[0])
    else:
        k = int(b.rng.choice([d for d in range(1, total + 1) if total % d == 0]))
        out = (total // k, k)
        y = b.node("Reshape", [b.dq(x), b.const(np.array(out, np.int64))])
    return b.requant(y, out, x.scale, same_as=x)


def elementwise_ops() -> dict[str, Gen]:
    return {
        "Add": _binary("Add"), "Mul": _binary("Mul"), "Concat": concat, "Pad": pad,
        "Softmax": _unary("Softmax", 1 / 256, -128), "Sigmoid": _unary("Sigmoid", 1 / 256, -128),
        "Tanh": _unary("Tanh", 1 / 128, 0), "Reshape": reshape,
    }
