"""What an ONNX tensor of a QDQ model is, on the way to int8 kernels.

Every ONNX tensor name maps to one of these:
- Quantized: an int8 tensor on the device with its scale and zero point (a QuantizeLinear's
  result, or an int8 model input once a DequantizeLinear gives it a meaning);
- Dequantized: DequantizeLinear(Quantized): float in ONNX, the same int8 data on the device;
- QConst: DequantizeLinear of an integer constant (weights, biases), per tensor or per axis;
- Pending: the float result of an operator on dequantized inputs, not computed yet: the next
  QuantizeLinear gives its output scale and zero point, and only then is its kernel emitted
  (with any Relu/Clip between them folded into the clamp);
- Edge: a float32 or int8 model input, before its QuantizeLinear or DequantizeLinear;
- a numpy array: any other constant (scales, zero points, shapes, clip bounds).

Four-dimensional tensors are NCHW in ONNX and NHWC on the device (`nhwc`), as our kernels
want; `shape` is always the ONNX (logical) shape.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.models.frontends.onnx_qdq.reader import Node

INT8_MIN, INT8_MAX = -128, 127


@dataclass(frozen=True)
class Quantized:
    value: Any  # the Relax value: a Var bound to a kernel's result, an input, or a constant
    shape: tuple[int, ...]
    scale: float  # float32, as stored in the model
    zero_point: int
    nhwc: bool = False


@dataclass(frozen=True)
class Dequantized:
    q: Quantized


@dataclass(frozen=True)
class QConst:
    data: np.ndarray  # int8 or int32
    scales: np.ndarray  # float32: one, or one per index along `axis`
    zero_points: np.ndarray  # int64, as many as scales
    axis: int

    @property
    def per_tensor(self) -> bool:
        return self.scales.size == 1


@dataclass(frozen=True)
class OutQuant:
    """The quantization a QuantizeLinear asks of a Pending result, with the clamp of any Relu/Clip
    in between, in the output's integers."""

    scale: float
    zero_point: int
    act_min: int = INT8_MIN
    act_max: int = INT8_MAX


@dataclass
class Pending:
    node: Node  # the operator whose result this is
    shape: tuple[int, ...]
    nhwc: bool
    build: Callable[[OutQuant], Quantized]  # emits the kernel, once the output quantization is known
    low: float = -math.inf  # fused Relu/Clip bounds, real values
    high: float = math.inf


@dataclass(frozen=True)
class Edge:
    """A model input: float32 (quantized by a QuantizeLinear) or int8 (given a meaning by a
    DequantizeLinear)."""

    value: Any
    shape: tuple[int, ...]
    dtype: str


Value = Quantized | Dequantized | QConst | Pending | Edge | np.ndarray


NHWC = (0, 2, 3, 1)  # the ONNX (NCHW) axis at each position of the device's NHWC layout


def quantize_value(value: float, scale: float, zero_point: int) -> int:
    """QuantizeLinear of one real value: round half to even of value / scale in float32, plus the
    zero point, saturated to int8 (as onnxruntime computes it)."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        q = np.rint(np.float32(value) / np.float32(scale))
    if not np.isfinite(q):
        return INT8_MIN if q < 0 else INT8_MAX
    return int(min(max(float(q) + zero_point, INT8_MIN), INT8_MAX))


def out_quant(p: Pending, scale: float, zero_point: int) -> OutQuant:
    """A QuantizeLinear's parameters with the pending Relu/Clip bounds as an int8 clamp:
    Q(clip(v, lo, hi)) == clamp(Q(v), Q(lo), Q(hi)) since Q is monotonic."""
    lo = INT8_MIN if p.low == -math.inf else quantize_value(p.low, scale, zero_point)
    hi = INT8_MAX if p.high == math.inf else quantize_value(p.high, scale, zero_point)
    return OutQuant(scale, zero_point, lo, hi)
