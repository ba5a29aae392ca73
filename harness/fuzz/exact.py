"""The QDQ cases' second opinion at a tie: the same graph evaluated in float64 by the ONNX package's
`onnx.reference`, with DequantizeLinear and QuantizeLinear of its own in float64.

onnxruntime computes a QDQ graph in float32. Where the exact value of an intermediate lies on a
rounding tie (an average of 8 integers ending in .5, say), its float32 sum of dequantized values can
land a hair either side, so its QuantizeLinear rounds to one neighbour or the other; a following
Sigmoid turns that 1 LSB into 3. utvm computes the same value exactly, in integers. In float64 the
products, sums and power-of-two divisions of such a graph are exact, so the tie stays a tie and rounds
half to even, as ONNX says. A case that disagrees with onnxruntime but agrees with this evaluation,
which itself disagrees with onnxruntime, is onnxruntime's rounding, not ours; the fuzzer lists such
cases apart (runner.Report.reference_rounding) rather than hiding them. The evaluation only speaks
where one of its QuantizeLinear met an exact tie (`evaluate` counts them): onnx.reference is not a
second oracle (its MaxPool reads `pads` in another order than onnxruntime), only a tie-breaker.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def _along(v: np.ndarray, x: np.ndarray, axis: int) -> np.ndarray:
    """A per-axis scale or zero point shaped to broadcast against x (a scalar stays a scalar)."""
    if v.ndim == 0 or v.size == 1:
        return v.reshape(())
    shape = [1] * x.ndim
    shape[axis % x.ndim] = v.size
    return v.reshape(shape)


def _ops(ties: list[int]) -> list[type]:
    """DequantizeLinear and QuantizeLinear in float64; the latter adds the exact ties it rounds
    (quotients whose fraction is exactly one half) to ties[0]."""
    from onnx.reference.op_run import OpRun

    class DequantizeLinear(OpRun):  # onnx.reference keys an op by its class name
        op_domain = ""

        def _run(self, x: np.ndarray, scale: np.ndarray, zero_point: Any = None, axis: int = 1,
                 **_: Any) -> tuple[np.ndarray]:
            zp = np.zeros((), np.float64) if zero_point is None else zero_point.astype(np.float64)
            return ((x.astype(np.float64) - _along(zp, x, axis)) * _along(scale.astype(np.float64), x, axis),)

    class QuantizeLinear(OpRun):
        op_domain = ""

        def _run(self, x: np.ndarray, scale: np.ndarray, zero_point: Any = None, axis: int = 1,
                 **_: Any) -> tuple[np.ndarray]:
            dtype = np.uint8 if zero_point is None else zero_point.dtype
            zp = np.zeros((), np.float64) if zero_point is None else zero_point.astype(np.float64)
            scaled = x.astype(np.float64) / _along(scale.astype(np.float64), x, axis)
            ties[0] += int(np.count_nonzero(scaled - np.floor(scaled) == 0.5))
            y = np.rint(scaled) + _along(zp, x, axis)
            info = np.iinfo(dtype)
            return (np.clip(y, info.min, info.max).astype(dtype),)

    return [DequantizeLinear, QuantizeLinear]


def evaluate(model: Any, inputs: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """The outputs of the ONNX model (a ModelProto) in float64 (float initializers widened, every
    float operator computed by onnx.reference's numpy on float64 arrays) and how many exact ties its
    QuantizeLinear rounded."""
    from onnx import TensorProto, numpy_helper
    from onnx.reference import ReferenceEvaluator

    wide = type(model)()
    wide.CopyFrom(model)
    for init in wide.graph.initializer:
        if init.data_type == TensorProto.FLOAT:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float64), init.name))
    ties = [0]
    evaluator = ReferenceEvaluator(wide, new_ops=_ops(ties))
    names = [i.name for i in wide.graph.input]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outs = evaluator.run(None, dict(zip(names, inputs, strict=True)))
    return [np.asarray(o) for o in outs], ties[0]
