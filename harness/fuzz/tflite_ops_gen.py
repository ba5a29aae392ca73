"""The fuzzer's generators for the elementwise, shape and activation operators: ADD, MUL (with
broadcasting), CONCATENATION, PAD, PADV2, RESHAPE, SOFTMAX, LOGISTIC, TANH, QUANTIZE, DEQUANTIZE."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from harness.fuzz.tflite_model import Activation, OpModel
from harness.fuzz.tflite_quant import act, quant, zero_point

Rng = np.random.Generator


def _broadcast(rng: Rng, shape: tuple[int, ...]) -> tuple[int, ...]:
    if rng.random() < 0.5:
        return shape
    return tuple(1 if rng.random() < 0.5 else d for d in shape)


def _binary(opcode: str, options: str) -> Callable[[Rng, Activation, int], OpModel]:
    def gen(rng: Rng, inp: Activation, size: int) -> OpModel:
        shape, scale = inp[0], inp[1] or 0.1
        other = (_broadcast(rng, shape), *quant(rng, scale))
        inputs = [inp, other]
        around = scale * other[1] * 64 if opcode == "MUL" else scale
        return OpModel(opcode, inputs, (shape, *quant(rng, around)),
                       options=(options, {"fusedActivationFunction": act(rng)}))
    return gen


def concatenation(rng: Rng, inp: Activation, size: int) -> OpModel:
    shape = inp[0]
    axis = int(rng.integers(0, len(shape)))
    same = rng.random() < 0.85  # TFLite Micro needs one quantization for all (else both refuse)
    others = [(tuple(int(rng.integers(1, 4)) if i == axis else d for i, d in enumerate(shape)),
               *((inp[1], inp[2]) if same else quant(rng, inp[1]))) for _ in range(int(rng.integers(1, 3)))]
    out = tuple(d + sum(o[0][i] for o in others) if i == axis else d for i, d in enumerate(shape))
    if rng.random() < 0.3:
        axis -= len(shape)
    qout = (inp[1], inp[2]) if same else quant(rng, inp[1])
    return OpModel("CONCATENATION", [inp, *others], (out, *qout),
                   options=("ConcatenationOptions", {"axis": axis}))


def _pad(v2: bool) -> Callable[[Rng, Activation, int], OpModel]:
    def gen(rng: Rng, inp: Activation, size: int) -> OpModel:
        shape = inp[0]
        paddings = rng.integers(0, 3, size=(len(shape), 2)).astype(np.int32)
        if len(shape) == 4:
            paddings[0] = 0
        out = tuple(int(d + b + a) for d, (b, a) in zip(shape, paddings, strict=True))
        constants: list = [(paddings, None, 0)]
        if v2:
            value = np.array([zero_point(rng)], np.int8)
            constants.append((value, [inp[1]], 0, [inp[2]]))
        return OpModel("PADV2" if v2 else "PAD", [inp], (out, inp[1], inp[2]), constants=constants)
    return gen


def reshape(rng: Rng, inp: Activation, size: int) -> OpModel:
    shape = inp[0]
    total = int(np.prod(shape))
    divisors = [d for d in range(1, total + 1) if total % d == 0]
    k = int(rng.choice(divisors))
    out = (1, total // k, 1, k) if rng.random() < 0.4 else (total // k, k)
    return OpModel("RESHAPE", [inp], (out, inp[1], inp[2]), constants=[(np.array(out, np.int32), None, 0)],
                   options=("ReshapeOptions", {"newShape": list(out)}))


def softmax(rng: Rng, inp: Activation, size: int) -> OpModel:
    beta = float(np.float32(rng.choice([1.0, rng.uniform(0.1, 2.0)])))
    return OpModel("SOFTMAX", [inp], (inp[0], 1 / 256, -128), options=("SoftmaxOptions", {"beta": beta}))


def logistic(rng: Rng, inp: Activation, size: int) -> OpModel:
    return OpModel("LOGISTIC", [inp], (inp[0], 1 / 256, -128))


def tanh(rng: Rng, inp: Activation, size: int) -> OpModel:
    return OpModel("TANH", [inp], (inp[0], 1 / 128, 0))


def quantize(rng: Rng, inp: Activation, size: int) -> OpModel:
    return OpModel("QUANTIZE", [inp], (inp[0], *quant(rng, inp[1] or 0.05)))


def dequantize(rng: Rng, inp: Activation, size: int) -> OpModel:
    return OpModel("DEQUANTIZE", [inp], (inp[0], None, 0))


ELEMENTWISE: dict[str, Callable[[Rng, Activation, int], OpModel]] = {
    "ADD": _binary("ADD", "AddOptions"),
    "MUL": _binary("MUL", "MulOptions"),
    "CONCATENATION": concatenation,
    "PAD": _pad(False),
    "PADV2": _pad(True),
    "RESHAPE": reshape,
    "SOFTMAX": softmax,
    "LOGISTIC": logistic,
    "TANH": tanh,
    "QUANTIZE": quantize,
    "DEQUANTIZE": dequantize,
}
