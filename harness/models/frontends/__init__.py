"""Model frontends: a model file read once (loaded.read_model: its path, bytes, format and parsed
model, a LoadedModel) and turned into a Relax IRModule (loaded.to_relax): an int8 .tflite model
through our own int8 kernels (tflite_reader, tflite_int8), a float32 one through TVM's TFLite
frontend (tflite), a quantized ONNX model in QDQ form through our int8 kernels (onnx_qdq), a
float ONNX model through TVM's ONNX frontend (onnx). They build on harness.models.int8 only."""
