"""`import_qdq`: an ONNX QDQ model as a Relax IRModule whose `main` is a straight line of call_tir
into int8 kernels, with the model's float32 inputs quantized and its float32 outputs dequantized
at the edges (the only float arithmetic), or int8 edges where the model has them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from harness.errors import ModelError
from harness.models.frontends.onnx_qdq import activation, elementwise, layers, pooling, reader, shape
from harness.models.frontends.onnx_qdq.context import Context, describe
from harness.models.frontends.onnx_qdq.reader import Node, OnnxGraph
from harness.models.frontends.onnx_qdq.values import (
    Dequantized,
    Edge,
    OutQuant,
    Pending,
    QConst,
    Quantized,
    Value,
    out_quant,
)
from harness.models.int8 import qdq as kernels
from harness.models.int8.emit import const, named_errors, tensor_type

OUTPUT_SCALES_ATTR = "utvm.output_scales"  # IRModule attribute: each output's int8 scale (0: none)
INT8 = 3  # onnx.TensorProto.INT8, for QuantizeLinear's output_dtype


def _scale_and_zero_point(ctx: Context, node: Node, data_dtype: str | None) -> tuple[np.ndarray, np.ndarray]:
    """The node's scale (float32) and zero point (int, zeros where omitted) as arrays."""
    if int(node.attr("block_size", 0)):
        raise ModelError(f"{node.label}: blocked quantization is not supported")
    scale = ctx.constant(node, 1, "the scale")
    if scale.dtype != np.float32 or scale.size < 1 or np.any(scale <= 0):
        raise ModelError(f"{node.label}: the scale must be positive float32, got {scale.dtype} "
                         f"{scale.ravel()[:4]}")
    zp = ctx.value(node, 2)
    if zp is None:
        if data_dtype is None and int(node.attr("output_dtype", 0)) != INT8:
            raise ModelError(f"{node.label}: without a zero point the output is uint8; only int8 is "
                             "supported")
        return scale, np.zeros(scale.shape, np.int64)
    zero = ctx.constant(node, 2, "the zero point")
    expected = data_dtype or "int8"
    if zero.dtype.name != expected or expected not in ("int8", "int32"):
        raise ModelError(f"{node.label}: {zero.dtype} quantization is not supported; only int8 activations "
                         "and weights (int32 biases)")
    if zero.size not in (1, scale.size):
        raise ModelError(f"{node.label}: {zero.size} zero points for {scale.size} scales")
    return scale, np.broadcast_to(zero.astype(np.int64).ravel(), (scale.size,)).reshape(scale.shape)


def _per_tensor(node: Node, scale: np.ndarray, zero: np.ndarray) -> tuple[float, int]:
    if scale.size != 1:
        raise ModelError(f"{node.label}: activations need one scale and zero point (per-axis quantization is "
                         "only for constant weights)")
    return float(scale.ravel()[0]), int(zero.ravel()[0])


def convert_quantize(ctx: Context, node: Node) -> Value:
    scale, zero = _per_tensor(node, *_scale_and_zero_point(ctx, node, None))
    v = ctx.value(node, 0)
    if isinstance(v, Pending):
        return v.build(out_quant(v, scale, zero))
    if isinstance(v, Dequantized):
        return elementwise.requantize_to(ctx, node, v.q, OutQuant(scale, zero))
    if isinstance(v, Edge) and v.dtype == "float32":
        nhwc = len(v.shape) == 4
        value = ctx.emit(node, "quantize", lambda X, S: kernels.quantize(X, S, zero_point=zero, nhwc=nhwc),
                         [v.value, const(np.array([scale], np.float32))])
        return Quantized(value, v.shape, scale, zero, nhwc)
    if isinstance(v, np.ndarray) and v.dtype == np.float32:  # a constant quantized in the file
        with np.errstate(over="ignore", invalid="ignore"):
            return np.clip(np.rint(v / np.float32(scale)) + zero, -128, 127).astype(np.int8)
    raise ModelError(f"{node.label}: cannot quantize {describe(v)}")


def convert_dequantize(ctx: Context, node: Node) -> Value:
    v = ctx.value(node, 0)
    if isinstance(v, np.ndarray):
        if v.dtype not in (np.int8, np.int32):
            raise ModelError(f"{node.label}: {v.dtype} constants are not supported; only int8 and int32")
        scale, zero = _scale_and_zero_point(ctx, node, v.dtype.name)
        return QConst(v, scale, np.broadcast_to(zero, scale.shape), int(node.attr("axis", 1)))
    scale_, zero_ = _per_tensor(node, *_scale_and_zero_point(ctx, node, "int8"))
    if isinstance(v, Quantized):  # the DequantizeLinear's parameters give the int8 data its meaning
        return Dequantized(Quantized(v.value, v.shape, scale_, zero_, v.nhwc))
    if isinstance(v, Edge) and v.dtype == "int8":
        return Dequantized(Quantized(v.value, v.shape, scale_, zero_))
    raise ModelError(f"{node.label}: cannot dequantize {describe(v)}")


CONVERTERS: dict[str, Callable[[Context, Node], Any]] = {
    "QuantizeLinear": convert_quantize,
    "DequantizeLinear": convert_dequantize,
    "Conv": layers.convert_conv,
    "Gemm": layers.convert_gemm,
    "MatMul": layers.convert_matmul,
    "Add": elementwise.convert_add,
    "Mul": elementwise.convert_mul,
    "Relu": elementwise.convert_relu,
    "Clip": elementwise.convert_clip,
    "Softmax": elementwise.convert_softmax,
    "Reshape": elementwise.convert_reshape,
    "Flatten": elementwise.convert_flatten,
    "Squeeze": elementwise.convert_squeeze,
    "Unsqueeze": elementwise.convert_unsqueeze,
    "Identity": elementwise.convert_identity,
    "MaxPool": pooling.convert_max_pool,
    "AveragePool": pooling.convert_average_pool,
    "GlobalAveragePool": pooling.convert_global_average_pool,
    "ReduceMean": pooling.convert_reduce_mean,
    "Concat": shape.convert_concat,
    "Pad": shape.convert_pad,
    "Sigmoid": activation.convert_unary,
    "Tanh": activation.convert_unary,
}


def import_qdq(model: Any) -> Any:
    """The IRModule of an ONNX ModelProto in QDQ form; a ModelError naming the node otherwise. The
    module's OUTPUT_SCALES_ATTR gives the int8 scale of each output dequantized at the edge."""
    from tvm import relax

    graph = reader.read(model)
    bb = relax.BlockBuilder()
    ctx = Context(graph, bb)
    params = []
    for port in graph.inputs:
        if port.dtype not in ("float32", "int8"):
            raise ModelError(f"model input {port.name!r} is {port.dtype}; QDQ models need float32 or int8 "
                             "inputs")
        ty = tensor_type(list(port.shape), port.dtype)
        params.append(relax.Var(_identifier(port.name, len(params)), ty))
        ctx.values[port.name] = Edge(params[-1], port.shape, port.dtype)
    failure: ModelError | None = None
    with bb.function("main", params):
        with bb.dataflow():
            try:
                for node in graph.nodes:
                    ctx.values[node.outputs[0]] = _convert(ctx, node)
                outs, scales = zip(*(_output(ctx, graph, name) for name in graph.outputs), strict=True)
            except ModelError as exc:  # close the function first: TVM warns of a builder left open
                failure, outs, scales = exc, (relax.const(0),), (0.0,)
            result = bb.emit_output(outs[0] if len(outs) == 1 else relax.Tuple(list(outs)))
        bb.emit_func_output(result)
    if failure is not None:
        raise failure
    return bb.get().with_attr(OUTPUT_SCALES_ATTR, [float(s) for s in scales])


def _convert(ctx: Context, node: Node) -> Value:
    """The converter's result; any failure is a one-line ModelError that names the node."""
    converter = CONVERTERS.get(node.op_type)
    if converter is None:
        raise ModelError(f"{node.label} is not supported in QDQ models (supported: {', '.join(CONVERTERS)})")
    if len([o for o in node.outputs if o]) != 1:
        raise ModelError(f"{node.label}: only operators with one output are supported")
    return named_errors(node.label, lambda: converter(ctx, node))


def _output(ctx: Context, graph: OnnxGraph, name: str) -> tuple[Any, float]:
    """The Relax value of a model output (dequantized to float32 where the model does), and its scale."""
    v = ctx.values.get(name)
    producer = next((n for n in graph.nodes if name in n.outputs), None)
    if producer is not None and isinstance(v, Dequantized | Quantized):
        q = v.q if isinstance(v, Dequantized) else v
        if isinstance(v, Quantized):  # an int8 output: in ONNX's layout
            return ctx.layout(producer, q, False).value, 0.0
        value = ctx.emit(producer, "dequantize", lambda X, S: kernels.dequantize(
            X, S, zero_point=q.zero_point, shape=q.shape, nhwc=q.nhwc),
            [q.value, const(np.array([q.scale], np.float32))])
        return value, q.scale
    raise ModelError(f"model output {name!r} is {describe(v)}; a QDQ model's outputs must be quantized "
                     "(QuantizeLinear, optionally then DequantizeLinear)")


def _identifier(name: str, index: int) -> str:
    cleaned = re.sub(r"\W", "_", name).strip("_")
    return cleaned if cleaned and not cleaned[0].isdigit() else f"input_{index}"
