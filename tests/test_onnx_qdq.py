"""Quantized ONNX models (QDQ form) through our int8 kernels (harness.models.frontends.onnx_qdq), never TVM's
float frontend: run on the host build over RPC, within one LSB of onnxruntime and with the same
top-1 on seeded inputs; int8 parameters; float only in the edge kernels; Sigmoid and Tanh bit for
bit on every int8 input; one-line errors naming the node for what falls outside the QDQ patterns."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from harness.build import Manifest
from harness.device import Device
from harness.errors import ModelError
from harness.models.compile.model import Compiled, compile_model
from harness.models.deploy import reference as references
from harness.models.deploy.check import seeded_agreement
from harness.models.deploy.graph_client import GraphModule
from harness.models.deploy.run import build_model_image
from harness.targets import get_target
from tests import onnx_models, qdq_models, qdq_more_models
from tests.conftest import REPO_ROOT, kernel_bodies, require_tvm

pytestmark = pytest.mark.tvm
ROOT = REPO_ROOT / "build" / "test-qdq"
SEEDED_INPUTS = 20
MODELS = {
    "per-tensor": lambda p: qdq_models.quantized_cnn(p, per_channel=False),
    "per-channel": lambda p: qdq_models.quantized_cnn(p, per_channel=True),
    "int8-edges": qdq_models.int8_edges,
    "zoo": qdq_models.quantized_zoo,
    "more-per-tensor": lambda p: qdq_more_models.quantized_more(p, per_channel=False),
    "more-per-channel": lambda p: qdq_more_models.quantized_more(p, per_channel=True),
    "int8-more": qdq_more_models.int8_more,
}
NOT_CLASSIFIERS = {"int8-more"}  # its [1,8] output is a mean, not scores: top-1 means nothing


class Built:
    """A QDQ model written once per session, compiled, and its host image (shared by xdist workers)."""

    def __init__(self, name: str) -> None:
        require_tvm()
        ROOT.mkdir(parents=True, exist_ok=True)
        with FileLock(str(ROOT / f"{name}.lock")):
            self.path = MODELS[name](ROOT / f"{name}.onnx")
            self.compiled: Compiled = compile_model(self.path)
            out = ROOT / f"{name}-host"
            self.image: Manifest = build_model_image(self.compiled, get_target("host"), out)


_BUILT: dict[str, Built] = {}


def built(name: str) -> Built:
    if name not in _BUILT:
        _BUILT[name] = Built(name)
    return _BUILT[name]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_within_one_lsb_of_onnxruntime_on_the_host(name: str, tmp_path: Path) -> None:
    b = built(name)
    ref = references.onnxruntime_reference(b.path)
    with Device(b.image, workdir=tmp_path) as client:
        agreement = seeded_agreement(GraphModule(client, b.compiled.graph), ref, SEEDED_INPUTS)
    print(f"{name}: {agreement.as_dict()}")
    assert agreement.max_diff_lsb <= 1.0 + 1e-3, agreement
    assert agreement.top1_agree == SEEDED_INPUTS or name in NOT_CLASSIFIERS, agreement


def _kernels(compiled: Compiled) -> list[str]:
    return [re.sub(r"_\d+(_\d+)?$", "", n.func) for n in compiled.graph.nodes]


def test_int8_kernels_and_float_only_at_the_edges() -> None:
    b = built("per-channel")
    assert _kernels(b.compiled) == [
        "quantize", "conv2d", "depthwise_conv2d", "conv2d", "add", "mul", "average_pool", "max_pool",
        "relayout", "average_pool", "relayout", "fully_connected", "fully_connected", "add", "softmax",
        "dequantize"]
    graph = b.compiled.graph
    assert [graph.tensors[i].dtype for i in (*graph.inputs, *graph.outputs)] == ["float32", "float32"]
    assert graph.tensors[graph.outputs[0]].scale == pytest.approx(1 / 255)
    params = [t for t in graph.tensors if t.kind == "param"]
    assert {t.dtype for t in params} == {"int8", "int32", "float32"}
    assert [t.nbytes for t in params if t.dtype == "float32"] == [4, 4]  # the edges' scales
    edges = {n.func for n in graph.nodes if n.func.startswith(("quantize", "dequantize"))}
    assert floats_in(b.compiled.kernels_c) == edges


def floats_in(source: str) -> set[str]:
    """The kernels of TVM's C whose bodies (packed entry or plain function) mention float."""
    return {k for prefix in ("__tvm_ffi_", "utvm_k_") for k, body in kernel_bodies(source, prefix).items()
            if re.search(r"\bfloat\b", body)}


def test_zoo_kernels() -> None:
    """SAME/ceil/uneven windows, Squeeze/Unsqueeze and Reshape to and from 4-D are int8 copies."""
    assert _kernels(built("zoo").compiled) == [
        "quantize", "conv2d", "max_pool", "average_pool", "relayout", "relayout", "relayout",
        "fully_connected", "relayout", "mul", "relayout", "softmax", "dequantize"]


def test_new_operator_kernels() -> None:
    """Concat requantizes the inputs quantized otherwise than its output, then copies (TFLite's
    concatenation); Pad is TFLite's pad; ReduceMean TFLite's mean; Sigmoid and Tanh one table
    lookup kernel (shared); float only at the edges."""
    b = built("more-per-channel")
    assert _kernels(b.compiled) == [
        "quantize", "conv2d", "pad", "conv2d", "lookup", "lookup", "requantize", "requantize", "requantize",
        "concatenation", "requantize", "concatenation", "mean", "mean", "relayout", "fully_connected",
        "fully_connected", "add", "softmax", "dequantize"]
    edges = {n.func for n in b.compiled.graph.nodes if n.func.startswith(("quantize", "dequantize"))}
    assert floats_in(b.compiled.kernels_c) == edges
    assert _kernels(built("int8-more").compiled) == [
        "lookup", "lookup", "requantize", "requantize", "requantize", "concatenation", "requantize", "pad",
        "mean", "concatenation", "mean", "relayout"]


@pytest.mark.parametrize("case", sorted(qdq_more_models.UNARY_CASES))
def test_sigmoid_and_tanh_tables_are_onnxruntime_on_every_int8_input(case: str, tmp_path: Path) -> None:
    """The table built at import time, and the kernel built from it, give onnxruntime's DQ -> f -> Q
    for all 256 int8 inputs, bit for bit."""
    tvm = require_tvm()
    from tvm import relax

    from harness.models.frontends.onnx_qdq.activation import FUNCTIONS, lookup_table
    from harness.models.frontends.onnx_qdq.values import OutQuant

    op, (xs, xz, ys, yz) = qdq_more_models.UNARY_CASES[case]
    path = qdq_more_models.unary(tmp_path / f"{case}.onnx", op, (xs, xz, ys, yz))
    x = qdq_more_models.every_int8()
    expected = qdq_more_models.run_onnxruntime(path, x)
    np.testing.assert_array_equal(lookup_table(FUNCTIONS[op], xs, xz, OutQuant(ys, yz)), expected)
    compiled = compile_model(path)
    vm = relax.VirtualMachine(tvm.compile(compiled.relax_mod, target="llvm"), tvm.cpu())
    np.testing.assert_array_equal(vm[compiled.entry](tvm.runtime.tensor(x)).numpy(), expected)


def test_relu_and_clip_fold_into_the_clamp() -> None:
    """DQ -> Conv -> Relu -> Q is one conv2d kernel; DQ -> Clip -> Q one requantize; an int8 input
    and output need no edge kernel but a change of layout."""
    b = built("int8-edges")
    assert _kernels(b.compiled) == ["relayout", "conv2d", "mul", "requantize", "relayout", "fully_connected"]
    graph = b.compiled.graph
    assert [graph.tensors[i].dtype for i in (*graph.inputs, *graph.outputs)] == ["int8", "int8"]


def test_run_model_reports_onnxruntime_and_int8_parameters(tmp_path: Path) -> None:
    require_tvm()
    import onnx
    from onnx import numpy_helper

    model = qdq_models.quantized_cnn(tmp_path / "cnn.onnx", per_channel=True)
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run-model", str(model), "--json", "--out",
                           str(tmp_path / "b"), "--repeat", "2"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["reference"]["runtime"] == "onnxruntime"
    (out,) = report["outputs"]
    assert out["matches_reference"] and out["top1_agrees"] and out["max_diff_lsb"] <= 1.0 + 1e-3, out
    inits = [numpy_helper.to_array(t) for t in onnx.load(str(model)).graph.initializer]
    weights = sum(a.nbytes for a in inits if a.dtype == np.int8 and a.ndim >= 2)
    biases = sum(a.nbytes for a in inits if a.dtype == np.int32)
    channels = sum(a.shape[0] for a in inits if a.dtype == np.int32)  # per-channel multiplier + shift
    params = json.loads((tmp_path / "b" / "graph.json").read_text())["plan"]["params_bytes"]
    assert weights <= params <= weights + biases + 8 * channels + 64, (params, weights, biases)
    assert params < 2 * weights  # float32 weights alone would be 4x


@pytest.mark.parametrize("case", sorted(qdq_models.UNSUPPORTED))
def test_outside_the_qdq_patterns_is_one_line_naming_the_node(case: str, tmp_path: Path) -> None:
    require_tvm()
    make, message = qdq_models.UNSUPPORTED[case]
    with pytest.raises(ModelError) as info:
        compile_model(make(tmp_path / f"{case}.onnx"))
    assert "\n" not in str(info.value) and str(info.value).startswith(message), str(info.value)


def test_run_model_on_an_unsupported_node_exits_2(tmp_path: Path) -> None:
    require_tvm()
    make, message = qdq_models.UNSUPPORTED["lrn"]
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run-model", str(make(tmp_path / "m.onnx")),
                           "--out", str(tmp_path / "b")], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("utvm: error: ") and message in lines[0], proc.stderr


def test_float_onnx_models_still_go_through_tvm(tmp_path: Path) -> None:
    """No DequantizeLinear: a float model (even with a QuantizeLinear on its output) is TVM's."""
    require_tvm()
    for make in (onnx_models.mlp, onnx_models.int8_mlp):
        compiled = compile_model(make(tmp_path / f"{make.__name__}.onnx"))
        ops = [f.attrs["utvm.op"] for f in compiled.relax_mod.functions.values()
               if getattr(f, "attrs", None) is not None and "utvm.op" in f.attrs]
        assert not ops
