"""Quantized ONNX models in QDQ form, built in code (no downloads): a small float CNN quantized by
onnxruntime's quantize_static (per tensor or per channel), one written node by node with int8
edges, and models outside the QDQ patterns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

OPSET = 17
INPUT = (1, 3, 16, 16)


def _init(rng: np.random.Generator, name: str, shape: tuple[int, ...], scale: float = 0.3) -> Any:
    from onnx import numpy_helper

    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype("float32"), name)


def _array(name: str, value: Any, dtype: str) -> Any:
    from onnx import numpy_helper

    return numpy_helper.from_array(np.array(value, dtype=dtype), name)


def _save(nodes: list[Any], inits: list[Any], inputs: list[Any], outputs: list[Any], path: Path) -> Path:
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, path.stem, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def float_cnn(path: Path, seed: int = 0) -> Path:
    """Conv+Relu (stride 2, padded), depthwise Conv+Clip(0, 6), 1x1 Conv, a residual Add, Mul of two
    activations, AveragePool (padded, count_include_pad=0), MaxPool, then GlobalAveragePool ->
    Flatten -> Gemm beside Reshape -> MatMul, their Add, Softmax: float32 [1,3,16,16] -> [1,10]."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(seed)
    inits = [_init(rng, "w1", (8, 3, 3, 3)), _init(rng, "b1", (8,), 0.1), _init(rng, "wd", (8, 1, 3, 3)),
             _init(rng, "bd", (8,), 0.1), _init(rng, "w2", (8, 8, 1, 1)), _init(rng, "b2", (8,), 0.1),
             _init(rng, "wg", (10, 8)), _init(rng, "bg", (10,), 0.1), _init(rng, "wm", (128, 10), 0.1),
             _array("shape", [1, 128], "int64"), _array("lo", 0.0, "float32"), _array("hi", 6.0, "float32")]
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w1", "b1"], ["c1"], "conv1", pads=[1, 1, 1, 1], strides=[2, 2]),
        n("Relu", ["c1"], ["r1"], "relu1"),
        n("Conv", ["r1", "wd", "bd"], ["c2"], "depthwise", pads=[1, 1, 1, 1], group=8),
        n("Clip", ["c2", "lo", "hi"], ["r2"], "relu6"),
        n("Conv", ["r2", "w2", "b2"], ["c3"], "pointwise"),
        n("Add", ["c3", "r1"], ["a"], "residual"),
        n("Mul", ["a", "r2"], ["m"], "gate"),
        n("AveragePool", ["m"], ["ap"], "avgpool", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        n("MaxPool", ["ap"], ["mp"], "maxpool", kernel_shape=[2, 2], strides=[2, 2]),
        n("GlobalAveragePool", ["mp"], ["gp"], "gap"),
        n("Flatten", ["gp"], ["f"], "flatten"),
        n("Gemm", ["f", "wg", "bg"], ["g"], "gemm", transB=1),
        n("Reshape", ["mp", "shape"], ["flat"], "reshape"),
        n("MatMul", ["flat", "wm"], ["mm"], "matmul"),
        n("Add", ["g", "mm"], ["logits"], "sum"),
        n("Softmax", ["logits"], ["y"], "softmax", axis=-1),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(INPUT))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])
    return _save(nodes, inits, [x], [y], path)


def float_zoo(path: Path, seed: int = 0) -> Path:
    """The other window and shape cases: Conv with auto_pad SAME_UPPER and stride 2, MaxPool with
    ceil_mode and pads, AveragePool with count_include_pad and uneven pads, Flatten -> Unsqueeze ->
    Squeeze, Gemm with transB=0, Reshape to 4-D (NHWC on the device), Mul of a tensor by itself,
    Softmax: float32 [1,4,9,9] -> [1,7]."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(seed)
    inits = [_init(rng, "w", (6, 4, 3, 3)), _init(rng, "b", (6,), 0.1), _init(rng, "g", (54, 7), 0.2),
             _array("axes", [1], "int64"), _array("s4", [1, 7, 1, 1], "int64"), _array("s2", [1, 7], "int64")]
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w", "b"], ["c"], "conv", auto_pad="SAME_UPPER", strides=[2, 2]),
        n("Relu", ["c"], ["r"], "relu"),
        n("MaxPool", ["r"], ["mp"], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
          ceil_mode=1),
        n("AveragePool", ["mp"], ["ap"], "avgpool", kernel_shape=[2, 2], pads=[0, 0, 1, 1],
          count_include_pad=1),
        n("Flatten", ["ap"], ["f"], "flatten"),
        n("Unsqueeze", ["f", "axes"], ["u"], "unsqueeze"),
        n("Squeeze", ["u", "axes"], ["sq"], "squeeze"),
        n("Gemm", ["sq", "g"], ["h"], "gemm"),
        n("Reshape", ["h", "s4"], ["h4"], "to4d"),
        n("Mul", ["h4", "h4"], ["sqr"], "square"),
        n("Reshape", ["sqr", "s2"], ["h2"], "to2d"),
        n("Softmax", ["h2"], ["y"], "softmax", axis=1),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 9, 9])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 7])
    return _save(nodes, inits, [x], [y], path)


def quantized_cnn(path: Path, per_channel: bool, seed: int = 0) -> Path:
    """float_cnn through onnxruntime.quantization.quantize_static (QDQ, int8 activations and
    weights), calibrated on seeded data."""
    source = float_cnn(path.with_name(path.stem + "_float.onnx"), seed)
    return quantize(source, path, per_channel, INPUT, seed)


def quantized_zoo(path: Path) -> Path:
    return quantize(float_zoo(path.with_name(path.stem + "_float.onnx")), path, True, (1, 4, 9, 9), 0)


def quantize(source: Path, path: Path, per_channel: bool, shape: tuple[int, ...], seed: int,
             op_types: list[str] | None = None) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    rng = np.random.default_rng(seed + 100)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"x": rng.standard_normal(shape).astype("float32")} for _ in range(16)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    quantize_static(str(source), str(path), Reader(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    op_types_to_quantize=op_types)
    return path


def int8_edges(path: Path) -> Path:
    """Written node by node: an int8 input and output (no float edge), DQ -> Conv -> Relu -> Q with the
    Relu kept (zero point 3), Mul by a per-channel-broadcast int8 constant, Clip into another scale,
    Flatten -> MatMul -> Q: int8 [1,4,6,6] -> int8 [1,5]."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(7)
    xs, ws, s1 = 0.04, 0.01, 0.05
    inits = [
        _array("xs", xs, "float32"), _array("xz", -7, "int8"),
        _array("w", rng.integers(-127, 128, (6, 4, 3, 3)), "int8"), _array("ws", ws, "float32"),
        _array("wz", 0, "int8"),
        _array("b", rng.integers(-3000, 3000, (6,)), "int32"), _array("bs", np.float32(xs) * np.float32(ws),
                                                                       "float32"),
        _array("s1", s1, "float32"), _array("z1", 3, "int8"),
        _array("k", rng.integers(-127, 128, (6, 1, 1)), "int8"), _array("ks", 0.02, "float32"),
        _array("kz", 4, "int8"),
        _array("s2", 0.002, "float32"), _array("z2", -2, "int8"),
        _array("s3", 0.001, "float32"), _array("z3", -10, "int8"),
        _array("lo", -0.02, "float32"), _array("hi", 0.09, "float32"),
        _array("m", rng.integers(-127, 128, (96, 5)), "int8"), _array("ms", 0.004, "float32"),
        _array("mz", 0, "int8"), _array("s4", 0.003, "float32"), _array("z4", 1, "int8"),
    ]
    n = helper.make_node
    nodes = [
        n("DequantizeLinear", ["x", "xs", "xz"], ["xf"], "dq_x"),
        n("DequantizeLinear", ["w", "ws", "wz"], ["wf"], "dq_w"),
        n("DequantizeLinear", ["b", "bs"], ["bf"], "dq_b"),
        n("Conv", ["xf", "wf", "bf"], ["c"], "conv"),
        n("Relu", ["c"], ["r"], "relu"),
        n("QuantizeLinear", ["r", "s1", "z1"], ["rq"], "q_r"),
        n("DequantizeLinear", ["rq", "s1", "z1"], ["rf"], "dq_r"),
        n("DequantizeLinear", ["k", "ks", "kz"], ["kf"], "dq_k"),
        n("Mul", ["rf", "kf"], ["p"], "scale"),
        n("QuantizeLinear", ["p", "s2", "z2"], ["pq"], "q_p"),
        n("DequantizeLinear", ["pq", "s2", "z2"], ["pf"], "dq_p"),
        n("Clip", ["pf", "lo", "hi"], ["cl"], "clip"),
        n("QuantizeLinear", ["cl", "s3", "z3"], ["clq"], "q_clip"),
        n("DequantizeLinear", ["clq", "s3", "z3"], ["clf"], "dq_clip"),
        n("Flatten", ["clf"], ["f"], "flatten"),
        n("DequantizeLinear", ["m", "ms", "mz"], ["mf"], "dq_m"),
        n("MatMul", ["f", "mf"], ["y0"], "matmul"),
        n("QuantizeLinear", ["y0", "s4", "z4"], ["y"], "q_y"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.INT8, [1, 4, 6, 6])
    y = helper.make_tensor_value_info("y", TensorProto.INT8, [1, 5])
    return _save(nodes, inits, [x], [y], path)


def _around(op: str, path: Path, attrs: dict[str, Any] | None = None, zero_dtype: str = "int8",
            weights: tuple[int, ...] | None = None, quantize_input: bool = True,
            consts: tuple[tuple[str, Any, str], ...] = ()) -> Path:
    """float x -> Q -> DQ -> op (with DQ'd int8 weights if given, then constant inputs (name, value,
    dtype)) -> Q -> DQ -> y."""
    from onnx import TensorProto, helper

    n = helper.make_node
    inits = [_array("s", 0.05, "float32"), _array("z", 0, zero_dtype)]
    nodes = [n("QuantizeLinear", ["x", "s", "z"], ["xq"], "q_x"),
             n("DequantizeLinear", ["xq", "s", "z"], ["xf"], "dq_x")]
    args = ["xf" if quantize_input else "x"]
    if weights is not None:
        inits += [_array("w", np.ones(weights), "int8"), _array("ws", 0.01, "float32"),
                  _array("wz", 0, "int8")]
        nodes.append(n("DequantizeLinear", ["w", "ws", "wz"], ["wf"], "dq_w"))
        args.append("wf")
    inits += [_array(name, value, dtype) for name, value, dtype in consts]
    args += [name for name, _, _ in consts]
    nodes += [n(op, args, ["h"], op.lower(), **(attrs or {})),
              n("QuantizeLinear", ["h", "s", "z"], ["hq"], "q_h"),
              n("DequantizeLinear", ["hq", "s", "z"], ["y"], "dq_h")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])
    return _save(nodes, inits, [x], [y], path)


UNSUPPORTED = {
    "lrn": (lambda p: _around("LRN", p, {"size": 3}),
            "node 2 (LRN 'lrn') is not supported in QDQ models (supported: QuantizeLinear, "),
    "pad-reflect": (lambda p: _around("Pad", p, {"mode": "reflect"}, consts=(("pads", [0] * 8, "int64"),)),
                    "node 2 (Pad 'pad'): mode 'reflect' is not supported; only 'constant'"),
    "concat-axis": (lambda p: _around("Concat", p, {"axis": 4}),
                    "node 2 (Concat 'concat'): axis 4 does not fit rank-4 inputs"),
    "float-conv": (lambda p: _around("Conv", p, weights=(4, 4, 1, 1), quantize_input=False),
                   "node 3 (Conv 'conv'): input 'x' must come from a DequantizeLinear of an int8 activation, "
                   "got the float32 model input itself"),
    "uint8": (lambda p: _around("Relu", p, zero_dtype="uint8"),
              "node 0 (QuantizeLinear 'q_x'): uint8 quantization is not supported; only int8 activations and "
              "weights (int32 biases)"),
    "grouped-conv": (lambda p: _around("Conv", p, {"group": 2}, weights=(4, 2, 1, 1)),
                     "node 3 (Conv 'conv'): grouped convolution (group 2, 4 input channels, weights "
                     "[4, 2, 1, 1]) is not supported; only plain and depthwise"),
}
