"""ONNX models written in code (onnx.helper), for `utvm run-model`."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def mlp(path: Path, batch: int | str = 1) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal(s).astype("float32"), n)
               for n, s in (("W1", (16, 32)), ("B1", (32,)), ("W2", (32, 4)))]
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["h0"]), helper.make_node("Add", ["h0", "B1"], ["h1"]),
             helper.make_node("Relu", ["h1"], ["h2"]), helper.make_node("MatMul", ["h2", "W2"], ["h3"]),
             helper.make_node("Softmax", ["h3"], ["y"], axis=-1)]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 4])
    graph = helper.make_graph(nodes, "mlp", [x], [y], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def unsupported(path: Path) -> Path:
    """A model whose output shape depends on the data (NonZero): no fixed graph exists."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("NonZero", ["x"], ["y"])], "nz",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, [1, None])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def quantized_output(path: Path) -> Path:
    """float [1,16] -> MatMul -> QuantizeLinear (scale 0.05, zero point -3) -> int8 [1,12]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((16, 12)).astype("float32"), "W"),
             numpy_helper.from_array(np.array(0.05, dtype="float32"), "s"),
             numpy_helper.from_array(np.array(-3, dtype="int8"), "z")]
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"]),
             helper.make_node("QuantizeLinear", ["h", "s", "z"], ["y"])]
    graph = helper.make_graph(nodes, "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.INT8, [1, 12])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def int8_input(path: Path) -> Path:
    """int8 [1,8] -> Cast to float -> MatMul -> float [1,3]: an int8 input, as ic01 and vww01 have."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(1).standard_normal((8, 3)).astype("float32"), "W")
    nodes = [helper.make_node("Cast", ["x"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("MatMul", ["f", "W"], ["y"])]
    graph = helper.make_graph(nodes, "i8", [helper.make_tensor_value_info("x", TensorProto.INT8, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def int8_mlp(path: Path, hidden: int = 32, seed: int = 0) -> Path:
    """float [1,16] -> MatMul -> Relu -> MatMul -> QuantizeLinear -> int8 [1,10]: a small model of the
    model tier (int8 outputs compared in LSB); `hidden` sets how much work it is."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(rng.standard_normal((16, hidden)).astype("float32") * 0.5, "W1"),
             numpy_helper.from_array(rng.standard_normal((hidden, 10)).astype("float32") * 0.2, "W2"),
             numpy_helper.from_array(np.array(0.1, dtype="float32"), "s"),
             numpy_helper.from_array(np.array(0, dtype="int8"), "z")]
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["h0"]), helper.make_node("Relu", ["h0"], ["h1"]),
             helper.make_node("MatMul", ["h1", "W2"], ["h2"]),
             helper.make_node("QuantizeLinear", ["h2", "s", "z"], ["y"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])
    y = helper.make_tensor_value_info("y", TensorProto.INT8, [1, 10])
    graph = helper.make_graph(nodes, "int8_mlp", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
