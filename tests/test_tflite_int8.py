"""int8 TFLite models through our own int8 kernels (harness.models.int8): bit-exact with TFLite
Micro on the MLPerf Tiny models, integer-only C, parameters about the size of the model's
constants, and one clear ModelError line for what cannot be compiled."""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.errors import ModelError
from harness.models.compile.model import Compiled, compile_model
from tests.conftest import mlperf_tiny_model, require_tvm

pytestmark = pytest.mark.tvm

MLPERF_TINY = ["kws01", "vww01", "ic01", "ad01"]
# The constant bytes (weights and biases) of each MLPerf Tiny .tflite file.
CONSTANT_BYTES = {"kws01": 24_376, "vww01": 219_072, "ic01": 78_752, "ad01": 270_880}
RUNS = 20



class Built:
    """A model compiled once per session, with an llvm build of its lowered module."""

    def __init__(self, name: str) -> None:
        tvm = require_tvm()
        from tvm import relax

        self.path = mlperf_tiny_model(name)
        self.compiled: Compiled = compile_model(self.path)
        self.vm = relax.VirtualMachine(tvm.compile(self.compiled.relax_mod, target="llvm"), tvm.cpu())

    def run(self, x: np.ndarray) -> np.ndarray:
        import tvm

        return self.vm[self.compiled.entry](tvm.runtime.tensor(x)).numpy()


_BUILT: dict[str, Built] = {}


def built(name: str) -> Built:
    if name not in _BUILT:
        _BUILT[name] = Built(name)
    return _BUILT[name]


@pytest.mark.parametrize("name", MLPERF_TINY)
def test_bit_exact_with_tflite_micro(name: str) -> None:
    from tflite_micro import runtime

    b = built(name)
    interpreter = runtime.Interpreter.from_file(str(b.path))
    shape = tuple(int(d) for d in interpreter.get_input_details(0)["shape"])
    rng = np.random.default_rng(2024)
    worst = 0
    for _ in range(RUNS):
        x = rng.integers(-128, 128, size=shape, dtype=np.int8)
        interpreter.set_input(x, 0)
        interpreter.invoke()
        expected = interpreter.get_output(0)
        got = b.run(x)
        assert got.dtype == np.int8 and got.shape == expected.shape
        worst = max(worst, int(np.abs(got.astype(np.int32) - expected.astype(np.int32)).max()))
        assert np.argmax(got) == np.argmax(expected)
    assert worst == 0, f"{name}: max |diff| to TFLite Micro is {worst} LSB"


@pytest.mark.parametrize("name", MLPERF_TINY)
def test_parameters_are_the_int8_weights_int32_biases_and_small_tables(name: str) -> None:
    from harness.models.frontends.tflite_reader import parse
    from harness.models.int8.dead_channels import eliminate_dead_channels

    graph = built(name).compiled.graph
    params = [t for t in graph.tensors if t.kind == "param"]
    assert {t.dtype for t in params} <= {"int8", "int32"}
    original = parse(mlperf_tiny_model(name).read_bytes())
    assert sum(t.data.nbytes for t in original.tensors if t.data is not None) == CONSTANT_BYTES[name]
    model = eliminate_dead_channels(original)  # what is compiled: vww01 loses its foldable dead channels
    constant_bytes = sum(t.data.nbytes for t in model.tensors if t.data is not None)
    assert (constant_bytes < CONSTANT_BYTES[name]) == (name == "vww01")
    per_channel = sum(int(model.tensors[op.outputs[0]].shape[-1]) for op in model.operators
                      if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
                      and not model.tensors[op.inputs[1]].quant.per_tensor)
    unused = sum(model.tensors[op.inputs[1]].data.nbytes for op in model.operators
                 if op.op == "RESHAPE" and len(op.inputs) > 1)  # the shape operand is not a kernel argument
    extra = graph.plan_stats["params_bytes"] - constant_bytes
    assert -unused <= extra <= 5 * per_channel - unused  # int32 multiplier and int8 shift per channel at most


@pytest.mark.parametrize("name", MLPERF_TINY)
def test_kernels_are_integer_only_c(name: str) -> None:
    compiled = built(name).compiled
    src = compiled.kernels_c
    assert not re.findall(r"\b(float|double)\b", src)  # TVM's C for these kernels has no float at all
    assert "TVMBackendAllocWorkspace" not in src  # every intermediate is a small local array
    arrays = dict(re.findall(r"\bint(?:8|32|64)_t (\w+)\[(\d+)\];", src))
    assert arrays and "acc_ptr" in arrays
    classes = compiled.graph.tensors[compiled.graph.outputs[0]].shape[-1]
    # accumulators and fixed-point temporaries compact to scalars; softmax keeps one row of exponentials
    rows = {k: int(v) for k, v in arrays.items() if v != "1"}
    assert rows == ({"exp_ptr": classes} if name != "ad01" else {})


def test_every_kernel_has_its_default_schedule() -> None:
    require_tvm()
    from harness.models.compile.schedule import DEFAULT_SCHEDULES, apply_default_schedules

    mod = built("ic01").compiled.relax_mod
    kernels = [f for f in mod.functions.values() if f.attrs is not None and "utvm.op" in f.attrs]
    ops = {str(f.attrs["utvm.op"]) for f in kernels}
    assert ops == {"conv2d", "add", "average_pool", "reshape", "fully_connected", "softmax"}
    assert ops <= set(DEFAULT_SCHEDULES)
    assert all("utvm.scheduled" in f.attrs for f in kernels)
    assert apply_default_schedules(mod) is mod  # scheduled once


def import_error(data: bytes) -> str:
    require_tvm()
    from harness.models.frontends.tflite_int8 import import_tflite

    with pytest.raises(ModelError) as info:
        import_tflite(data)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_truncated_file() -> None:
    data = mlperf_tiny_model("kws01").read_bytes()
    for cut in (len(data) // 2, len(data) - 100, 200, 9):
        assert "truncated" in import_error(data[:cut])


def test_corrupt_file(tmp_path: Path) -> None:
    data = bytearray(mlperf_tiny_model("kws01").read_bytes())
    data[8:] = np.random.default_rng(7).integers(0, 256, len(data) - 8, dtype=np.uint8).tobytes()
    assert "cannot read TFLite model" in import_error(bytes(data))
    wrong_id = bytearray(mlperf_tiny_model("kws01").read_bytes())
    wrong_id[4:8] = b"XXXX"
    assert "not a TFLite model" in import_error(bytes(wrong_id))
    path = tmp_path / "corrupt.bin"  # recognised by content, whatever the name
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="cannot read TFLite model"):
        compile_model(path)


def _table_field(data: bytes, table: Any, slot: int) -> int:
    """The absolute position of a table's scalar field (slot = vtable offset, 4 + 2 * field index)."""
    offset = table._tab.Offset(slot)
    assert offset, "the field is absent from the flatbuffer"
    return table._tab.Pos + offset


def test_unsupported_operator_names_it() -> None:
    import tflite

    data = bytearray(mlperf_tiny_model("kws01").read_bytes())
    model = tflite.Model.GetRootAsModel(data, 0)
    op = model.Subgraphs(0).Operators(9)  # AVERAGE_POOL_2D
    code = model.OperatorCodes(op.OpcodeIndex())
    struct.pack_into("<b", data, _table_field(data, code, 4), tflite.BuiltinOperator.LSTM)  # deprecated code
    if code._tab.Offset(10):  # builtin_code, absent from these older files
        struct.pack_into("<i", data, _table_field(data, code, 10), tflite.BuiltinOperator.LSTM)
    assert import_error(bytes(data)) == "operator 9 (LSTM) is not supported for int8 models"


def test_int16_activation_names_the_operator() -> None:
    import tflite

    data = bytearray(mlperf_tiny_model("kws01").read_bytes())
    tensor = tflite.Model.GetRootAsModel(data, 0).Subgraphs(0).Tensors(23)  # written by operator 1
    struct.pack_into("<b", data, _table_field(data, tensor, 6), tflite.TensorType.INT16)
    message = import_error(bytes(data))
    assert message.startswith("operator 1 (DEPTHWISE_CONV_2D): tensor 23 ") and "is INT16" in message


def test_the_int8_importer_refuses_a_float_model() -> None:
    """import_tflite never runs a float model in float; compile_model sends float32 models to TVM's
    frontend instead (tests/test_tflite_float.py)."""
    message = import_error(mlperf_tiny_model("ad01_float").read_bytes())
    assert message.startswith("operator 0 (FULLY_CONNECTED): tensor ") and "FLOAT32" in message


def test_more_than_one_subgraph() -> None:
    import tflite

    data = bytearray(mlperf_tiny_model("ad01").read_bytes())
    model = tflite.Model.GetRootAsModel(data, 0)
    vector = model._tab.Pos + model._tab.Offset(8)  # Model.subgraphs
    vector += struct.unpack_from("<I", data, vector)[0]
    struct.pack_into("<I", data, vector, 2)
    assert import_error(bytes(data)) == "the model has 2 subgraphs; only single-subgraph models are supported"
