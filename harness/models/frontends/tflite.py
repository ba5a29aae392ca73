"""Which way a .tflite model is imported: a full-integer model through our own int8 kernels
(tflite_int8.import_tflite), a float32 model through TVM's TFLite frontend
(tvm.relax.frontend.tflite, which reads the flatbuffer with the `tflite` package) into the float
path, as ONNX float models go through TVM's ONNX frontend. A model with float32 at its edges around
int8 operators is an int8 model (QUANTIZE and DEQUANTIZE kernels at the boundary); float32 anywhere
else in an int8 model is a one-line ModelError naming the operator."""

from __future__ import annotations

from typing import Any

from harness.errors import ModelError
from harness.models.frontends.tflite_int8 import import_tflite
from harness.models.int8.tflite_model import TFLiteModel

QUANTIZED = {"INT8", "UINT8", "INT16"}


def load_tflite(model: TFLiteModel, data: bytes) -> Any:
    """The IRModule of a parsed .tflite model (its bytes beside it, for TVM's float frontend)."""
    if model_kind(model) == "int8":
        return import_tflite(model)[0]
    return import_float(data)


def _activation_types(model: TFLiteModel, indices: Any) -> set[str]:
    return {model.tensors[i].type for i in indices if i >= 0 and model.tensors[i].data is None}


def model_kind(model: TFLiteModel) -> str:
    """ "float" where the activations are float32 and none is quantized, else "int8": the int8
    importer's own checks then apply (they admit float32 only at the model's edges, a QUANTIZE of
    an input or a DEQUANTIZE of an output, and name the operator where float meets int8 elsewhere)."""
    types = _activation_types(model, [*model.inputs, *model.outputs,
                                      *(i for op in model.operators for i in (*op.inputs, *op.outputs))])
    return "float" if "FLOAT32" in types and not types & QUANTIZED else "int8"


def import_float(data: bytes) -> Any:
    """A float32 .tflite model through TVM's TFLite frontend; its failures are one-line ModelErrors."""
    try:
        import tflite
        from tvm.relax.frontend.tflite import from_tflite
    except ImportError as exc:
        raise ModelError(f"float32 .tflite models need TVM's TFLite frontend and the tflite package "
                         f"(pip install tflite): {exc}") from None
    from harness.models.frontends.errors import converting
    from harness.models.frontends.native_log import quietly

    return quietly(lambda: converting("", from_tflite, tflite.Model.GetRootAsModel(data, 0)), ModelError,
                   "cannot import float32 TFLite model")
