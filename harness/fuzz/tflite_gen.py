"""Random int8 TFLite cases: one operator or a chain of two or three, every operator the int8
importer accepts, drawn from a seeded generator so that a case is f(seed, index, size).

Each generator takes the generator state, the input activation (shape, scale, zero point) and
the size cap, and returns an OpModel (harness.fuzz.tflite_model) whose output feeds the next
operator of a chain. Zero points cover the whole int8 range (the ends more often), scales span
three decades, requantization multipliers fall below and above one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.fuzz.tflite_model import Activation, Chain, OpModel
from harness.fuzz.tflite_ops_gen import ELEMENTWISE
from harness.fuzz.tflite_quant import SAME, VALID, act, bias, quant, weights

Rng = np.random.Generator
Generator = Callable[[Rng, Activation, int], OpModel]


def _out_len(n: int, k: int, s: int, d: int, padding: int) -> int:
    if padding == SAME:
        return -(-n // s)
    return (n - (k - 1) * d - 1) // s + 1


def _window(rng: Rng, shape: tuple[int, ...], dilate: bool) -> tuple[dict[str, int], tuple[int, int]]:
    """Kernel, stride, dilation and padding that leave an output of at least 1x1."""
    while True:
        k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        s = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        d = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if dilate and rng.random() < 0.4 else (1, 1)
        padding = SAME if rng.random() < 0.5 else VALID
        out = tuple(_out_len(shape[1 + i], k[i], s[i], d[i], padding) for i in range(2))
        if min(out) >= 1:
            opts = {"padding": padding, "strideH": s[0], "strideW": s[1], "kh": k[0], "kw": k[1],
                    "dilationHFactor": d[0], "dilationWFactor": d[1]}
            return opts, (out[0], out[1])


def conv(rng: Rng, inp: Activation, size: int) -> OpModel:
    shape, scale, _ = inp
    opts, (oh, ow) = _window(rng, shape, True)
    cout = int(rng.integers(1, size + 1))
    kh, kw = opts.pop("kh"), opts.pop("kw")
    w, ws = weights(rng, (cout, kh, kw, shape[3]), cout)
    return OpModel(
        "CONV_2D", [inp], ((1, oh, ow, cout), *quant(rng, scale * float(np.mean(ws)) * kh * kw * shape[3])),
        constants=[(w, ws, 0), bias(rng, scale, ws, cout)],
        options=("Conv2DOptions", {**opts, "fusedActivationFunction": act(rng)}),
    )


def depthwise(rng: Rng, inp: Activation, size: int) -> OpModel:
    shape, scale, _ = inp
    opts, (oh, ow) = _window(rng, shape, True)
    mult = int(rng.choice([1, 1, 2, 3]))
    cout = shape[3] * mult
    kh, kw = opts.pop("kh"), opts.pop("kw")
    w, ws = weights(rng, (1, kh, kw, cout), cout)
    return OpModel(
        "DEPTHWISE_CONV_2D", [inp], ((1, oh, ow, cout), *quant(rng, scale * float(np.mean(ws)) * kh * kw)),
        constants=[(w, ws, 3), bias(rng, scale, ws, cout)],
        options=("DepthwiseConv2DOptions",
                 {**opts, "depthMultiplier": mult, "fusedActivationFunction": act(rng)}),
    )


def fully_connected(rng: Rng, inp: Activation, size: int) -> OpModel:
    shape, scale, _ = inp
    total = int(np.prod(shape))
    depth = total // shape[0] if rng.random() < 0.5 else shape[-1]
    units = int(rng.integers(1, 2 * size + 1))
    w, ws = weights(rng, (units, depth), units)
    return OpModel(
        "FULLY_CONNECTED", [inp], ((total // depth, units), *quant(rng, scale * float(np.mean(ws)) * depth)),
        constants=[(w, ws, 0), bias(rng, scale, ws, units)],
        options=("FullyConnectedOptions", {"fusedActivationFunction": act(rng)}),
    )


def _pool(opcode: str) -> Generator:
    def gen(rng: Rng, inp: Activation, size: int) -> OpModel:
        shape = inp[0]
        opts, (oh, ow) = _window(rng, shape, False)
        for key in ("dilationHFactor", "dilationWFactor"):
            opts.pop(key)
        opts["filterHeight"], opts["filterWidth"] = opts.pop("kh"), opts.pop("kw")
        out = ((1, oh, ow, shape[3]), inp[1], inp[2])
        return OpModel(opcode, [inp], out,
                       options=("Pool2DOptions", {**opts, "fusedActivationFunction": act(rng)}))
    return gen


def mean(rng: Rng, inp: Activation, size: int) -> OpModel:
    shape = inp[0]
    rank = len(shape)
    axes = [1, 2] if rank == 4 and rng.random() < 0.7 else sorted(
        {int(a) for a in rng.integers(0, rank, size=int(rng.integers(1, rank + 1)))})
    keep = bool(rng.random() < 0.6)
    out = tuple(1 if i in axes else d for i, d in enumerate(shape) if keep or i not in axes)
    return OpModel("MEAN", [inp], (out, *quant(rng, inp[1] or 0.1)),
                   constants=[(np.array(axes, np.int32), None, 0)],
                   options=("ReducerOptions", {"keepDims": keep}))


def rank4(shape: tuple[int, ...]) -> bool:
    return len(shape) == 4 and shape[0] == 1


def anything(shape: tuple[int, ...]) -> bool:
    return len(shape) >= 1  # not the scalar a MEAN over every axis leaves


@dataclass(frozen=True)
class Op:
    generate: Generator
    accepts: Callable[[tuple[int, ...]], bool] = anything
    float_in: bool = False  # may take the model's float32 input (QUANTIZE)
    float_out: bool = False  # gives a float32 output: last in a chain (DEQUANTIZE)


OPS: dict[str, Op] = {
    "CONV_2D": Op(conv, rank4),
    "DEPTHWISE_CONV_2D": Op(depthwise, rank4),
    "FULLY_CONNECTED": Op(fully_connected),
    "AVERAGE_POOL_2D": Op(_pool("AVERAGE_POOL_2D"), rank4),
    "MAX_POOL_2D": Op(_pool("MAX_POOL_2D"), rank4),
    "MEAN": Op(mean),
    **{name: Op(gen, float_in=name == "QUANTIZE", float_out=name == "DEQUANTIZE")
       for name, gen in ELEMENTWISE.items()},
}


def _input(rng: Rng, size: int) -> Activation:
    if rng.random() < 0.7:
        shape: tuple[int, ...] = (1, *(int(d) for d in rng.integers(1, size + 2, size=2)),
                                  int(rng.integers(1, size + 1)))
    else:
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4 * size + 1)))
    return (shape, *quant(rng, None))


def make_chain(seed: int, index: int, size: int = 8, ops: tuple[str, ...] = tuple(OPS)) -> Chain:
    """The case (seed, index) at size cap `size`: one to three operators from `ops`."""
    rng = np.random.default_rng([seed, index, size])
    length = int(rng.choice([1, 1, 1, 2, 2, 3]))
    inp = _input(rng, size)
    chain: list[OpModel] = []
    for position in range(length):
        last = position == length - 1
        names = [n for n in ops if OPS[n].accepts(inp[0]) and (last or not OPS[n].float_out)]
        if position == 0 and not names:
            inp = ((1, *inp[0][-2:], size // 2 + 1) if len(inp[0]) == 2 else inp[0], *inp[1:])
            names = [n for n in ops if OPS[n].accepts(inp[0])]
        if not names:
            break
        op = OPS[str(rng.choice(names))]
        if position == 0 and op.float_in and rng.random() < 0.5:
            inp = (inp[0], None, 0)
        model = op.generate(rng, inp, size)
        chain.append(model)
        inp = model.output
    return Chain(chain)
