"""QDQ models for Concat, Pad, ReduceMean, Sigmoid and Tanh, built in code: a float classifier
quantized by onnxruntime's quantize_static (per tensor or per channel), one written node by node
with int8 edges and every input of a Concat quantized differently, and one-operator models
(DQ -> Sigmoid/Tanh -> Q) to compare all 256 int8 inputs with onnxruntime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.qdq_models import _array, _init, _save, quantize

MORE_INPUT = (1, 3, 8, 8)
# quantize_static leaves operators outside its registry (Tanh, ReduceMean) in float unless asked
MORE_OPS = ["Conv", "Relu", "Pad", "Sigmoid", "Tanh", "Concat", "ReduceMean", "Flatten", "Gemm", "MatMul",
            "Add", "Softmax"]


def float_more(path: Path, seed: int = 1) -> Path:
    """Conv+Relu, Pad (constant 0.5, top and right), 2x2 Conv, Sigmoid and Tanh of it, Concat of those and the
    Relu's output along the channels, ReduceMean over H and W (keepdims 0) -> Gemm; Concat of the
    Sigmoid and Tanh along H, ReduceMean over W (keepdims 1) -> Flatten -> MatMul; Add, Softmax:
    float32 [1,3,8,8] -> [1,10]."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(seed)
    inits = [_init(rng, "w1", (8, 3, 3, 3)), _init(rng, "b1", (8,), 0.1), _init(rng, "w2", (8, 8, 2, 2), 0.3),
             _init(rng, "b2", (8,), 0.1), _init(rng, "wg", (10, 24), 0.5), _init(rng, "bg", (10,), 0.1),
             _init(rng, "wm", (128, 10), 0.2), _array("pads", [0, 0, 1, 0, 0, 0, 0, 1], "int64"),
             _array("padv", 0.5, "float32")]
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w1", "b1"], ["c1"], "conv1", pads=[1, 1, 1, 1]),
        n("Relu", ["c1"], ["r1"], "relu1"),
        n("Pad", ["r1", "pads", "padv"], ["p"], "pad"),
        n("Conv", ["p", "w2", "b2"], ["c2"], "conv2"),  # [1,8,9,9] -> [1,8,8,8]
        n("Sigmoid", ["c2"], ["s"], "sigmoid"),
        n("Tanh", ["c2"], ["t"], "tanh"),
        n("Concat", ["s", "t", "r1"], ["cat"], "concat_c", axis=1),
        n("ReduceMean", ["cat"], ["m"], "mean_hw", axes=[2, 3], keepdims=0),
        n("Gemm", ["m", "wg", "bg"], ["g"], "gemm", transB=1),
        n("Concat", ["s", "t"], ["cat_h"], "concat_h", axis=2),
        n("ReduceMean", ["cat_h"], ["mw"], "mean_w", axes=[-1], keepdims=1),
        n("Flatten", ["mw"], ["f"], "flatten"),
        n("MatMul", ["f", "wm"], ["mm"], "matmul"),
        n("Add", ["g", "mm"], ["logits"], "sum"),
        n("Softmax", ["logits"], ["y"], "softmax", axis=-1),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(MORE_INPUT))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])
    return _save(nodes, inits, [x], [y], path)


def quantized_more(path: Path, per_channel: bool) -> Path:
    source = float_more(path.with_name(path.stem + "_float.onnx"))
    return quantize(source, path, per_channel, MORE_INPUT, 1, MORE_OPS)


def int8_more(path: Path) -> Path:
    """Written node by node, int8 edges: Sigmoid and Tanh into their own scales, Concat of them, the
    input and an int8 constant (four quantizations, none the output's) along the channels, Pad with
    a dequantized constant then Relu (the pad value clamped), ReduceMean over the channels (keepdims
    0: a 3-D result), Concat of that with itself along the last axis, ReduceMean over it (keepdims
    1), Reshape to a shape that a Concat of int64 constants gives: int8 [1,4,5,5] -> int8 [1,8]."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(5)
    inits = [
        _array("xs", 0.05, "float32"), _array("xz", -3, "int8"),
        _array("ss", 1 / 256, "float32"), _array("sz", -128, "int8"),
        _array("ts", 1 / 128, "float32"), _array("tz", 0, "int8"),
        _array("k", rng.integers(-128, 128, (1, 2, 5, 5)), "int8"), _array("ks", 0.02, "float32"),
        _array("kz", 2, "int8"),
        _array("cs", 0.03, "float32"), _array("cz", -10, "int8"),
        _array("pads", [0, 0, 1, 2, 0, 0, 2, 1], "int64"),
        _array("pv", -40, "int8"), _array("pvs", 0.01, "float32"), _array("pvz", 0, "int8"),
        _array("ps", 0.025, "float32"), _array("pz", -100, "int8"),
        _array("ms", 0.011, "float32"), _array("mz", 7, "int8"),
        _array("ys", 0.009, "float32"), _array("yz", -1, "int8"),
        _array("one", [1], "int64"), _array("eight", [8], "int64"),
    ]
    n = helper.make_node
    nodes = [
        n("DequantizeLinear", ["x", "xs", "xz"], ["xf"], "dq_x"),
        n("Sigmoid", ["xf"], ["s"], "sigmoid"),
        n("QuantizeLinear", ["s", "ss", "sz"], ["sq"], "q_s"),
        n("DequantizeLinear", ["sq", "ss", "sz"], ["sf"], "dq_s"),
        n("Tanh", ["xf"], ["t"], "tanh"),
        n("QuantizeLinear", ["t", "ts", "tz"], ["tq"], "q_t"),
        n("DequantizeLinear", ["tq", "ts", "tz"], ["tf"], "dq_t"),
        n("DequantizeLinear", ["k", "ks", "kz"], ["kf"], "dq_k"),
        n("Concat", ["sf", "tf", "xf", "kf"], ["c"], "concat", axis=1),
        n("QuantizeLinear", ["c", "cs", "cz"], ["cq"], "q_c"),
        n("DequantizeLinear", ["cq", "cs", "cz"], ["cf"], "dq_c"),
        n("DequantizeLinear", ["pv", "pvs", "pvz"], ["pvf"], "dq_pv"),
        n("Pad", ["cf", "pads", "pvf"], ["p"], "pad"),
        n("Relu", ["p"], ["pr"], "relu"),
        n("QuantizeLinear", ["pr", "ps", "pz"], ["pq"], "q_p"),
        n("DequantizeLinear", ["pq", "ps", "pz"], ["pf"], "dq_p"),
        n("ReduceMean", ["pf"], ["m"], "mean_c", axes=[1], keepdims=0),
        n("QuantizeLinear", ["m", "ms", "mz"], ["mq"], "q_m"),
        n("DequantizeLinear", ["mq", "ms", "mz"], ["mf"], "dq_m"),
        n("Concat", ["mf", "mf"], ["mm"], "concat_w", axis=-1),
        n("QuantizeLinear", ["mm", "ms", "mz"], ["mmq"], "q_mm"),
        n("DequantizeLinear", ["mmq", "ms", "mz"], ["mmf"], "dq_mm"),
        n("ReduceMean", ["mmf"], ["r"], "mean_w", axes=[-1], keepdims=1),
        n("QuantizeLinear", ["r", "ys", "yz"], ["rq"], "q_r"),
        n("DequantizeLinear", ["rq", "ys", "yz"], ["rf"], "dq_r"),
        n("Concat", ["one", "eight"], ["shape"], "concat_shape", axis=0),
        n("Reshape", ["rf", "shape"], ["y0"], "reshape"),
        n("QuantizeLinear", ["y0", "ys", "yz"], ["y"], "q_y"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.INT8, [1, 4, 5, 5])
    y = helper.make_tensor_value_info("y", TensorProto.INT8, [1, 8])
    return _save(nodes, inits, [x], [y], path)


def unary(path: Path, op: str, scales: tuple[float, int, float, int]) -> Path:
    """int8 [256] -> DQ -> op -> Q -> int8 [256], with the (input scale, zero point, output scale,
    zero point) given."""
    from onnx import TensorProto, helper

    xs, xz, ys, yz = scales
    inits = [_array("xs", xs, "float32"), _array("xz", xz, "int8"), _array("ys", ys, "float32"),
             _array("yz", yz, "int8")]
    n = helper.make_node
    nodes = [n("DequantizeLinear", ["x", "xs", "xz"], ["xf"], "dq_x"), n(op, ["xf"], ["h"], op.lower()),
             n("QuantizeLinear", ["h", "ys", "yz"], ["y"], "q_y")]
    x = helper.make_tensor_value_info("x", TensorProto.INT8, [256])
    y = helper.make_tensor_value_info("y", TensorProto.INT8, [256])
    return _save(nodes, inits, [x], [y], path)


UNARY_CASES: dict[str, tuple[str, tuple[float, int, float, int]]] = {
    "sigmoid-default": ("Sigmoid", (0.05, 0, 1 / 256, -128)),
    "sigmoid-narrow": ("Sigmoid", (0.013, -37, 0.0021, -90)),
    "sigmoid-wide": ("Sigmoid", (0.31, 12, 1 / 255, -128)),
    "tanh-default": ("Tanh", (0.03, 0, 1 / 128, 0)),
    "tanh-zp": ("Tanh", (0.0117, 55, 0.0063, 3)),
    "tanh-wide": ("Tanh", (0.2, -20, 0.0079, 0)),
}


def every_int8() -> np.ndarray:
    return np.arange(-128, 128, dtype=np.int8)


def run_onnxruntime(path: Path, x: np.ndarray) -> Any:
    from harness.models.deploy.reference_onnx import onnxruntime_session

    session = onnxruntime_session(path)
    return session.run(None, {session.get_inputs()[0].name: x})[0]
