"""Float32 .tflite models through TVM's TFLite frontend (the float path), compared with TFLite Micro's
interpreter on the host build; int8 models keep our int8 kernels; a model mixing float32 and
quantized activations is one ModelError line naming the operator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from harness.device import Device
from harness.errors import ModelError
from harness.models.compile.model import Compiled, compile_model
from harness.models.deploy import reference as references
from harness.models.deploy.graph_client import GraphModule
from harness.models.deploy.run import build_model_image
from harness.targets import get_target
from tests.conftest import REPO_ROOT, mlperf_tiny_model, require_tvm

pytestmark = pytest.mark.tvm
ROOT = REPO_ROOT / "build" / "test-tflite-float"
RUNS = 10



def test_float_model_on_the_host_matches_tflite_micro(tmp_path: Path) -> None:
    """ad01_float (the float autoencoder): TVM's float kernels against TFLite Micro's float ones."""
    require_tvm()
    path = mlperf_tiny_model("ad01_float")
    compiled = compile_model(path)
    graph = compiled.graph
    assert [graph.tensors[i].dtype for i in (*graph.inputs, *graph.outputs)] == ["float32", "float32"]
    assert not _utvm_ops(compiled)  # TVM's own kernels, not our int8 ones
    ROOT.mkdir(parents=True, exist_ok=True)
    with FileLock(str(ROOT / "ad01_float.lock")):
        image = build_model_image(compiled, get_target("host"), ROOT / "ad01_float-host")
    ref = references.tflite_micro(path)
    worst = 0.0
    with Device(image, workdir=tmp_path) as client:
        module = GraphModule(client, graph)
        for seed in range(RUNS):
            x = np.random.default_rng(seed).standard_normal(graph.tensors[graph.inputs[0]].shape)
            (got,), (expected,) = module(x.astype("float32")), ref.run([x.astype("float32")])
            result = references.compare(got, expected)
            worst = max(worst, result["max_abs_diff"])
            assert result["matches_reference"] and result["top1_agrees"], result
    print(f"ad01_float on host: max abs diff to TFLite Micro {worst:g} over {RUNS} inputs")


def test_int8_models_keep_our_int8_kernels() -> None:
    require_tvm()
    assert _utvm_ops(compile_model(mlperf_tiny_model("ad01"))) == {"fully_connected"}


def _utvm_ops(compiled: Compiled) -> set[str]:
    return {str(f.attrs["utvm.op"]) for f in compiled.relax_mod.functions.values()
            if getattr(f, "attrs", None) is not None and "utvm.op" in f.attrs}


def _middle_float_model() -> bytes:
    """int8 [1,4] -> DEQUANTIZE -> float32 -> QUANTIZE -> int8: float32 inside the model, not at an edge."""
    from tflite_micro.tensorflow.lite.micro.compression import model_editor as me
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    x = me.Tensor(shape=(1, 4), dtype=fb.TensorType.INT8, quantization=me.Quantization(0.1, 0), name="x")
    f = me.Tensor(shape=(1, 4), dtype=fb.TensorType.FLOAT32, name="f")
    y = me.Tensor(shape=(1, 4), dtype=fb.TensorType.INT8, quantization=me.Quantization(0.2, 0), name="y")
    ops = [me.Operator(opcode=fb.BuiltinOperator.DEQUANTIZE, inputs=[x], outputs=[f]),
           me.Operator(opcode=fb.BuiltinOperator.QUANTIZE, inputs=[f], outputs=[y])]
    model = me.Model(subgraphs=[me.Subgraph(tensors=[x, f, y], operators=ops, inputs=[x], outputs=[y])])
    model._fb.version = 3
    return bytes(model.build())


def test_float_inside_an_int8_model_is_one_line_naming_the_operator() -> None:
    """Float32 at an int8 model's edges is supported (QUANTIZE and DEQUANTIZE kernels); anywhere else
    it is an error that names the operator, never a float fallback."""
    require_tvm()
    with pytest.raises(ModelError) as info:
        compile_model(_middle_float_model())
    message = str(info.value)
    assert "\n" not in message and "operator" in message and "DEQUANTIZE" in message, message
