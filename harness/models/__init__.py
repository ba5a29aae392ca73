"""Models: compile ONNX or Relax into C kernels and a fixed graph, run them on a target, package them."""
