"""Models for MAX_POOL_2D, MEAN, CONCATENATION, PAD/PADV2, TRANSPOSE, MUL, LOGISTIC, TANH, LEAKY_RELU,
QUANTIZE and DEQUANTIZE, checked against TFLite Micro by tests/test_tflite_ops.py: several shapes and options
each (SAME and VALID pooling, keep_dims, broadcasting, fused activations, multipliers above one),
the float boundary (a float32 input quantized, an int8 output dequantized), and what TFLite
Micro refuses, which we refuse too with one line naming the operator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tests.tflite_ops import Activation, Chain, OpModel

SAME, VALID = 0, 1
NONE, RELU, RELU6 = 0, 1, 3


def has_float_boundary(model: OpModel | Chain) -> bool:
    ops = model.ops if isinstance(model, Chain) else [model]
    return any(op.opcode in ("QUANTIZE", "DEQUANTIZE") for op in ops)


def pool(
    padding: int,
    shape: tuple[int, ...],
    out: tuple[int, ...],
    k: tuple[int, int],
    s: tuple[int, int],
    act: int,
    q: tuple[float, int] = (0.1, -3),
) -> OpModel:
    options = {
        "padding": padding,
        "strideH": s[0],
        "strideW": s[1],
        "filterHeight": k[0],
        "filterWidth": k[1],
        "fusedActivationFunction": act,
    }
    return OpModel("MAX_POOL_2D", [(shape, *q)], (out, *q), options=("Pool2DOptions", options))


def mean(
    shape: tuple[int, ...],
    axes: list[int],
    keep: bool,
    out: tuple[int, ...],
    qin: tuple[float, int],
    qout: tuple[float, int],
) -> OpModel:
    return OpModel(
        "MEAN",
        [(shape, *qin)],
        (out, *qout),
        constants=[(np.array(axes, np.int32), None, 0)],
        options=("ReducerOptions", {"keepDims": keep}),
    )


def concat(
    shapes: list[tuple[int, ...]],
    axis: int,
    out: tuple[int, ...],
    qs: list[tuple[float, int]],
    qout: tuple[float, int],
) -> OpModel:
    return OpModel(
        "CONCATENATION",
        [(s, *q) for s, q in zip(shapes, qs, strict=True)],
        (out, *qout),
        options=("ConcatenationOptions", {"axis": axis}),
    )


def pad(
    shape: tuple[int, ...], paddings: list[list[int]], q: tuple[float, int], value: int | None = None
) -> OpModel:
    out = tuple(d + b + a for d, (b, a) in zip(shape, paddings, strict=True))
    constants: list[Any] = [(np.array(paddings, np.int32), None, 0)]
    if value is not None:  # PADV2: the pad value shares the output's quantization
        constants.append((np.array([value], np.int8), [q[0]], 0, [q[1]]))
    return OpModel("PADV2" if value is not None else "PAD", [(shape, *q)], (out, *q), constants=constants)


def transpose(shape: tuple[int, ...], perm: list[int], q: tuple[float, int]) -> OpModel:
    out = tuple(shape[p] for p in perm)
    return OpModel("TRANSPOSE", [(shape, *q)], (out, *q), constants=[(np.array(perm, np.int32), None, 0)])


def mul(a: Activation, b: Activation, out: Activation, act: int) -> OpModel:
    return OpModel("MUL", [a, b], out, options=("MulOptions", {"fusedActivationFunction": act}))


def logistic(n: int, scale: float, zp: int) -> OpModel:
    return OpModel("LOGISTIC", [((n,), scale, zp)], ((n,), 1 / 256, -128))


def tanh(n: int, scale: float, zp: int) -> OpModel:
    return OpModel("TANH", [((n,), scale, zp)], ((n,), 1 / 128, 0))


def leaky_relu(alpha: float, qin: tuple[float, int], qout: tuple[float, int], n: int = 256) -> OpModel:
    options = ("LeakyReluOptions", {"alpha": alpha})
    return OpModel("LEAKY_RELU", [((n,), *qin)], ((n,), *qout), options=options)


def quantize(shape: tuple[int, ...], qin: tuple[float | None, int], qout: tuple[float, int]) -> OpModel:
    return OpModel("QUANTIZE", [(shape, *qin)], (shape, *qout))


def dequantize(shape: tuple[int, ...], q: tuple[float, int]) -> OpModel:
    return OpModel("DEQUANTIZE", [(shape, *q)], (shape, None, 0))


def every_new_op() -> Chain:
    """PAD, MAX_POOL_2D, MUL, TANH, MEAN, CONCATENATION and LOGISTIC in one int8 model (the QEMU case)."""
    q = (0.1, -3)
    return Chain(
        [
            pad((1, 6, 6, 4), [[0, 0], [1, 1], [1, 1], [0, 0]], q),
            pool(SAME, (1, 8, 8, 4), (1, 4, 4, 4), (3, 3), (2, 2), RELU, q),
            mul(((1, 4, 4, 4), *q), ((1, 1, 1, 4), 0.05, 2), ((1, 4, 4, 4), 0.02, 5), NONE),
            OpModel("TANH", [((1, 4, 4, 4), 0.02, 5)], ((1, 4, 4, 4), 1 / 128, 0)),
            mean((1, 4, 4, 4), [1, 2], False, (1, 4), (1 / 128, 0), (0.01, 3)),
            concat([(1, 4), (1, 4)], 1, (1, 8), [(0.01, 3), (0.01, 3)], (0.01, 3)),
            OpModel("LOGISTIC", [((1, 8), 0.01, 3)], ((1, 8), 1 / 256, -128)),
        ]
    )


CASES: dict[str, Callable[[], OpModel | Chain]] = {
    "maxpool-same-3x3-stride2-relu": lambda: pool(SAME, (1, 7, 7, 4), (1, 4, 4, 4), (3, 3), (2, 2), RELU),
    "maxpool-valid-2x2": lambda: pool(VALID, (1, 6, 5, 3), (1, 3, 2, 3), (2, 2), (2, 2), NONE),
    "maxpool-same-2x3-strides1x2-relu6": lambda: pool(
        SAME, (1, 5, 6, 2), (1, 5, 3, 2), (2, 3), (1, 2), RELU6, (0.05, -100)
    ),
    "mean-hw-keepdims-same-quantization": lambda: mean(
        (1, 5, 6, 4), [1, 2], True, (1, 1, 1, 4), (0.1, -3), (0.1, -3)
    ),
    "mean-hw-rescaled": lambda: mean((1, 5, 6, 4), [2, 1], False, (1, 4), (0.1, -3), (0.05, 7)),
    "mean-negative-axis-downscaled": lambda: mean(
        (1, 5, 3, 4), [-2], False, (1, 5, 4), (0.02, 10), (0.3, -2)
    ),
    "mean-left-shift": lambda: mean((2, 7, 3), [1], True, (2, 1, 3), (0.5, 4), (0.01, 0)),
    # over 3 and 4 axes (and 5), which TFLite Micro runs too
    "mean-3-axes": lambda: mean((2, 3, 4, 5), [1, 2, 3], False, (2,), (0.1, 0), (0.1, 0)),
    "mean-3-axes-keepdims-left-shift": lambda: mean(
        (2, 4, 3, 5), [-1, 1, 2], True, (2, 1, 1, 1), (0.5, -128), (0.01, 5)
    ),
    "mean-4-axes-downscaled": lambda: mean(
        (2, 3, 4, 5), [0, 1, 2, 3], True, (1, 1, 1, 1), (0.1, -7), (0.3, 100)
    ),
    "mean-4-axes-duplicates-to-a-scalar": lambda: mean(
        (3, 2, 4, 2), [3, 0, -1, 1, 2], False, (), (0.02, 127), (0.05, -128)
    ),
    "mean-5d-3-axes": lambda: mean((1, 2, 2, 2, 3), [1, 2, 3], False, (1, 3), (0.1, 0), (0.07, -3)),
    "concat-channels": lambda: concat(
        [(1, 2, 3, 3), (1, 2, 3, 5)], -1, (1, 2, 3, 8), [(0.2, 4), (0.2, 4)], (0.2, 4)
    ),
    "concat-three-axis1": lambda: concat(
        [(2, 1, 3), (2, 4, 3), (2, 2, 3)], 1, (2, 7, 3), [(0.05, -9)] * 3, (0.05, -9)
    ),
    "concat-axis0": lambda: concat([(1, 6), (3, 6)], 0, (4, 6), [(0.3, 0), (0.3, 0)], (0.3, 0)),
    "pad-hw": lambda: pad((1, 3, 3, 2), [[0, 0], [1, 1], [0, 1], [0, 0]], (0.2, 4)),
    "pad-every-axis-3d": lambda: pad((2, 3, 4), [[1, 0], [0, 2], [1, 1]], (0.07, -20)),
    "padv2-constant": lambda: pad((1, 2, 3, 2), [[0, 0], [2, 1], [1, 1], [0, 0]], (0.1, 6), value=-100),
    "mul-broadcast-channels": lambda: mul(
        ((1, 4, 4, 8), 0.07, -5), ((1, 1, 1, 8), 0.21, 2), ((1, 4, 4, 8), 0.03, -20), NONE
    ),
    "mul-same-shape-left-shift-relu": lambda: mul(
        ((2, 3, 5), 0.5, 0), ((2, 3, 5), 0.5, -1), ((2, 3, 5), 0.01, -128), RELU
    ),
    "mul-broadcast-both-ranks-relu6": lambda: mul(
        ((4, 1, 3), 0.05, 10), ((1, 5, 3), 0.02, -3), ((4, 5, 3), 0.004, -120), RELU6
    ),
    "quantize-float-input-ties": lambda: quantize((4, 16), (None, 0), (1 / 16, 3)),
    "quantize-float-input": lambda: quantize((4, 16), (None, 0), (0.037, -20)),
    "dequantize-int8-output": lambda: dequantize((4, 16), (0.1, 3)),
    "float-boundary-quantize-logistic-dequantize": lambda: Chain(
        [
            quantize((2, 8), (None, 0), (0.05, -7)),
            OpModel("LOGISTIC", [((2, 8), 0.05, -7)], ((2, 8), 1 / 256, -128)),
            dequantize((2, 8), (1 / 256, -128)),
        ]
    ),
    "every-new-int8-op": every_new_op,
    # TRANSPOSE: NCHW to NHWC (as a model converted from PyTorch starts), a 3-D and a 5-D permutation
    "transpose-nchw-to-nhwc": lambda: transpose((1, 3, 5, 7), [0, 2, 3, 1], (0.1, -128)),
    "transpose-3d": lambda: transpose((4, 3, 2), [2, 0, 1], (0.05, 17)),
    "transpose-5d": lambda: transpose((2, 1, 3, 2, 4), [4, 3, 2, 1, 0], (0.2, 0)),
}

EVERY_INPUT: dict[str, Callable[[], OpModel]] = {
    "logistic-scale0.1-zp3": lambda: logistic(256, 0.1, 3),
    "logistic-scale0.02-zp-60": lambda: logistic(256, 0.02, -60),
    "logistic-scale0.6": lambda: logistic(256, 0.6, 0),
    "tanh-scale0.05-zp-7": lambda: tanh(256, 0.05, -7),
    "tanh-scale0.01": lambda: tanh(256, 0.01, 0),
    "tanh-scale0.3-zp100": lambda: tanh(256, 0.3, 100),
    # input scales so large that TFLite Micro's input radius is 0: every input saturates (fuzz-found)
    "logistic-scale170-radius0": lambda: logistic(256, 170.35, 3),
    "tanh-scale1000-zp-20-radius0": lambda: tanh(256, 1000.0, -20),
    "tanh-scale20-radius0": lambda: tanh(256, 20.0, 0),
    "requantize-down": lambda: quantize((256,), (0.1, 3), (0.07, -9)),
    "requantize-up-left-shift": lambda: quantize((256,), (0.5, -1), (0.1, 20)),
    # LEAKY_RELU: alpha below and above one, outputs scaled down, up and alike
    "leaky-relu-alpha0.2": lambda: leaky_relu(0.2, (0.1, 3), (0.05, -20)),
    "leaky-relu-alpha0.01-same-scale": lambda: leaky_relu(0.01, (0.07, -5), (0.07, -5)),
    "leaky-relu-alpha0.3-upscaled": lambda: leaky_relu(0.3, (0.02, 40), (0.15, 10)),
    "leaky-relu-alpha1.5": lambda: leaky_relu(1.5, (0.05, 0), (0.08, 7)),
    "leaky-relu-alpha3-left-shift": lambda: leaky_relu(3.0, (0.5, -100), (0.04, 90)),
    "leaky-relu-alpha0.75-tiny-scales": lambda: leaky_relu(0.75, (0.003, -60), (0.0021, 33)),
    "leaky-relu-alpha0": lambda: leaky_relu(0.0, (0.1, 0), (0.05, -128)),
}

# (model, our one-line error, whether TFLite Micro refuses the model too)
ERRORS: list[tuple[OpModel | Chain, str, bool]] = [
    (
        concat([(1, 2), (1, 2)], 1, (1, 4), [(0.1, 3), (0.3, -7)], (0.1, 3)),
        "operator 0 (CONCATENATION): input 1 has scale 0.300000012 and zero point -7, the output scale "
        "0.100000001 and zero point 3; TFLite Micro's int8 concatenation needs them equal",
        True,
    ),
    (
        concat([(1, 2), (1, 2)], 1, (1, 4), [(0.1, 3), (0.1, 3)], (0.1, 4)),
        "operator 0 (CONCATENATION): input 0 has scale 0.100000001 and zero point 3, the output scale "
        "0.100000001 and zero point 4; TFLite Micro's int8 concatenation needs them equal",
        True,
    ),
    (
        OpModel("LOGISTIC", [((4,), 0.1, 0)], ((4,), 1 / 256, 0)),
        "operator 0 (LOGISTIC): an int8 logistic output needs the input's shape, scale 1/256 and zero "
        "point -128 (what TFLite Micro's kernel produces)",
        True,
    ),
    (
        OpModel(
            "MAX_POOL_2D",
            [((1, 4, 4, 2), 0.1, 0)],
            ((1, 2, 2, 2), 0.1, 1),
            options=pool(VALID, (1, 4, 4, 2), (1, 2, 2, 2), (2, 2), (2, 2), NONE).options,
        ),
        "operator 0 (MAX_POOL_2D): input and output quantization differ; TFLite Micro needs them equal",
        True,
    ),
    (
        leaky_relu(-0.5, (0.1, 0), (0.1, 0), n=4),
        "operator 0 (LEAKY_RELU): alpha -0.5 is negative; only alpha >= 0 is supported",
        False,
    ),
    (  # float inside the model, not at its boundary
        Chain([dequantize((4,), (0.1, 0)), quantize((4,), (None, 0), (0.1, 0))]),
        "operator 0 (DEQUANTIZE): tensor 1 'op0_out' is FLOAT32; int8 models need int8 activations",
        False,
    ),
]
