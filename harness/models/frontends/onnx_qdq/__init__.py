"""Quantized ONNX models (QDQ form) as int8 kernels.

An ONNX model in QDQ form computes in float between DequantizeLinear and QuantizeLinear nodes:
DQ(int8 activation), DQ(int8 weight constant), DQ(int32 bias) -> Conv/Gemm/MatMul/Add/Mul/pooling/
ReduceMean/Concat/Pad/Softmax/Sigmoid/Tanh -> [Relu/Clip] -> Q. `import_qdq` recognizes those
patterns and emits each as one int8 kernel (Sigmoid and Tanh as a lookup table), reusing the
TFLite int8 kernels and fixed-point requantization (harness.models.int8: its operator families,
quant, fixedpoint) with per-channel Q31 multipliers and shifts, the Relu/Clip folded into the
clamp. A float32 model input followed by QuantizeLinear is quantized at the edge, a
DequantizeLinear at the output is dequantized there; those are the only float kernels. Anything
outside these patterns is a one-line ModelError naming the node, never a float fallback.

The reference is onnxruntime, which requantizes in float (round half to even) where we use TFLite's
fixed point: results agree within one LSB, not always bit for bit.
"""

from harness.models.frontends.onnx_qdq.importer import OUTPUT_SCALES_ATTR, import_qdq
from harness.models.frontends.onnx_qdq.reader import is_qdq

__all__ = ["OUTPUT_SCALES_ATTR", "import_qdq", "is_qdq"]
