"""The int8 operator library both int8 frontends (TFLite, ONNX QDQ) share: fixed-point helpers
(fixedpoint), quantization maths (quant), kernel emission (emit, tensors, scalars), and one module
per operator family holding that family's TE compute, quantization parameters, TFLite converter
and default schedule (conv, fully_connected, pool, elementwise, quantize, activation, softmax,
shape; qdq for the ONNX QDQ models' own kernels), listed in operators.py. The arithmetic is TFLite
Micro's, bit for bit. It imports no frontend and nothing of compile or deploy."""
