"""Single int8 operators against TFLite Micro, beyond what the MLPerf Tiny models exercise:
SAME average pooling, broadcasting ADD, depth multipliers and dilation, multipliers above one
(a left shift before the high multiply), per-channel and per-tensor FULLY_CONNECTED on a 4-D
input, softmax over several input scales and betas; and the operators of tests/tflite_more_ops
(MAX_POOL_2D, MEAN, CONCATENATION, PAD, MUL, LOGISTIC, TANH, QUANTIZE, DEQUANTIZE)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from elftools.elf.elffile import ELFFile

from harness.device import Device
from harness.models.compile.model import compile_model
from harness.models.deploy.graph_client import GraphModule
from harness.models.deploy.run import build_model_image
from harness.targets import get_target
from tests import tflite_more_ops
from tests.conftest import require_tvm
from tests.tflite_ops import Chain, OpModel, random_inputs, tflite_micro_outputs

pytestmark = pytest.mark.tvm
RNG = np.random.default_rng(11)
SAME, VALID, NONE, RELU, RELU6 = 0, 1, 0, 1, 3


def _w(shape: tuple[int, ...], low: int = -127, high: int = 128) -> np.ndarray:
    return RNG.integers(low, high, size=shape, dtype=np.int8)


def _scales(n: int, low: float, high: float) -> list[float]:
    return [float(s) for s in np.float32(RNG.uniform(low, high, n))]


def _bias(n: int, scale: float, size: int = 5000) -> tuple[np.ndarray, list[float], int]:
    return RNG.integers(-size, size, size=(n,), dtype=np.int32), [scale] * n, 0


def softmax(scale: float, beta: float) -> OpModel:
    return OpModel(
        "SOFTMAX", [((3, 10), scale, 5)], ((3, 10), 1 / 256, -128), options=("SoftmaxOptions", {"beta": beta})
    )


def add_broadcast() -> OpModel:
    return OpModel(
        "ADD",
        [((1, 4, 4, 8), 0.07, -5), ((1, 1, 1, 8), 0.21, 2)],
        ((1, 4, 4, 8), 0.3, -20),
        options=("AddOptions", {"fusedActivationFunction": NONE}),
    )


def average_pool(padding: int, shape: tuple[int, ...], out: tuple[int, ...], k: int, s: int) -> OpModel:
    return OpModel(
        "AVERAGE_POOL_2D",
        [(shape, 0.1, -3)],
        (out, 0.1, -3),
        options=(
            "Pool2DOptions",
            {
                "padding": padding,
                "strideW": s,
                "strideH": s,
                "filterWidth": k,
                "filterHeight": k,
                "fusedActivationFunction": RELU,
            },
        ),
    )


def depthwise_multiplier_dilation() -> OpModel:
    scales = _scales(6, 0.002, 0.02)
    return OpModel(
        "DEPTHWISE_CONV_2D",
        [((1, 9, 9, 3), 0.05, 7)],
        ((1, 5, 5, 6), 0.08, -10),
        constants=[(_w((1, 3, 3, 6)), scales, 3), _bias(6, 0.05 * 0.01)],
        options=(
            "DepthwiseConv2DOptions",
            {
                "padding": SAME,
                "strideW": 2,
                "strideH": 2,
                "depthMultiplier": 2,
                "dilationWFactor": 2,
                "dilationHFactor": 2,
                "fusedActivationFunction": RELU6,
            },
        ),
    )


def conv_left_shift() -> OpModel:
    scales = _scales(6, 0.005, 0.05)  # input 0.5 * filter / output 0.01: multipliers 0.25 .. 2.5
    return OpModel(
        "CONV_2D",
        [((1, 8, 8, 5), 0.5, 0)],
        ((1, 8, 4, 6), 0.01, 4),
        constants=[(_w((6, 3, 3, 5), -1, 2), scales, 0), _bias(6, 0.5 * 0.02, 20)],
        options=(
            "Conv2DOptions",
            {"padding": SAME, "strideW": 2, "strideH": 1, "fusedActivationFunction": NONE},
        ),
    )


def conv_dilated_valid() -> OpModel:
    return OpModel(
        "CONV_2D",
        [((1, 10, 10, 3), 0.02, -100)],
        ((1, 6, 8, 4), 0.3, 9),
        constants=[(_w((4, 3, 3, 3)), [0.011], 0), _bias(4, 0.02 * 0.011)],
        options=(
            "Conv2DOptions",
            {
                "padding": VALID,
                "strideW": 1,
                "strideH": 1,
                "dilationHFactor": 2,
                "dilationWFactor": 1,
                "fusedActivationFunction": RELU,
            },
        ),
    )


def fc_per_channel() -> OpModel:
    return OpModel(
        "FULLY_CONNECTED",
        [((2, 16), 0.04, 12)],
        ((2, 5), 0.2, -7),
        constants=[(_w((5, 16)), _scales(5, 0.005, 0.03), 0), _bias(5, 0.04 * 0.01)],
        options=("FullyConnectedOptions", {"fusedActivationFunction": RELU}),
    )


def fc_flattens_4d_input() -> OpModel:
    return OpModel(
        "FULLY_CONNECTED",
        [((1, 2, 2, 4), 0.04, -1)],
        ((1, 3), 0.1, 0),
        constants=[(_w((3, 16)), [0.02], 0), _bias(3, 0.04 * 0.02)],
        options=("FullyConnectedOptions", {"fusedActivationFunction": NONE}),
    )


CASES: dict[str, Callable[[], OpModel]] = {
    "softmax-scale0.05": lambda: softmax(0.05, 1.0),
    "softmax-scale0.4-beta0.5": lambda: softmax(0.4, 0.5),
    "softmax-scale1.3": lambda: softmax(1.3, 1.0),
    "add-broadcast": add_broadcast,
    "avgpool-same-3x3-stride2": lambda: average_pool(SAME, (1, 7, 7, 4), (1, 4, 4, 4), 3, 2),
    "avgpool-valid-2x2": lambda: average_pool(VALID, (1, 6, 5, 3), (1, 3, 2, 3), 2, 2),
    "depthwise-multiplier2-dilation2-same": depthwise_multiplier_dilation,
    "conv-left-shift-same-stride": conv_left_shift,
    "conv-dilated-valid-per-tensor": conv_dilated_valid,
    "fc-per-channel": fc_per_channel,
    "fc-flattens-4d-input": fc_flattens_4d_input,
    **tflite_more_ops.CASES,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_single_operator_bit_exact_with_tflite_micro(case: str) -> None:
    tvm = require_tvm()
    from tvm import relax

    model = CASES[case]()
    data = model.build()
    compiled = compile_model(data)
    vm = relax.VirtualMachine(tvm.compile(compiled.relax_mod, target="llvm"), tvm.cpu())
    rng = np.random.default_rng(3)
    for run in range(12):
        spread = 128 if run % 2 == 0 else 12  # full range, then values near each other
        xs = random_inputs(model.inputs, rng, spread)
        expected = tflite_micro_outputs(data, xs)
        got = vm[compiled.entry](*(tvm.runtime.tensor(x) for x in xs)).numpy()
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected, err_msg=f"{case}, run {run}")
    funcs = compiled.relax_mod.functions.values()
    kernels = [f for f in funcs if f.attrs is not None and "utvm.op" in f.attrs]
    assert kernels and all("utvm.scheduled" in f.attrs for f in kernels)  # every kernel's default schedule
    if not tflite_more_ops.has_float_boundary(model):  # integer-only C unless the model holds float
        assert not re.findall(r"\b(float|double)\b", compiled.kernels_c), case


@pytest.mark.parametrize("case", ["every-new-int8-op", "float-boundary-quantize-logistic-dequantize"])
def test_new_operators_on_cortex_m3_bit_exact_with_tflite_micro(case: str, tmp_path: Path) -> None:
    """Built for qemu-mps2-an385 (no FPU) and run through the graph executor over RPC. The int8
    model's kernels call no soft-float helper; the float-boundary model's do, in its QUANTIZE and
    DEQUANTIZE, and still match TFLite Micro bit for bit."""
    require_tvm()
    model = tflite_more_ops.CASES[case]()
    data = model.build()
    compiled = compile_model(data)
    manifest = build_model_image(compiled, get_target("qemu-mps2-an385"), tmp_path / "build")
    float_calls = set()
    for obj in Path(manifest.artifact).parent.glob("kernel*.o"):
        with obj.open("rb") as f:
            symbols = ELFFile(f).get_section_by_name(".symtab").iter_symbols()
            float_calls |= {s.name for s in symbols if s.name.startswith(("__aeabi_f", "__aeabi_d"))}
    assert bool(float_calls) == tflite_more_ops.has_float_boundary(model), float_calls
    rng = np.random.default_rng(5)
    with Device(manifest, workdir=tmp_path) as client:
        module = GraphModule(client, compiled.graph)
        for run in range(4):
            xs = random_inputs(model.inputs, rng, 128 if run % 2 == 0 else 12)
            (got,) = module(*xs)
            np.testing.assert_array_equal(got, tflite_micro_outputs(data, xs), err_msg=f"{case}, run {run}")


@pytest.mark.parametrize("case", sorted(tflite_more_ops.EVERY_INPUT))
def test_every_int8_input_bit_exact_with_tflite_micro(case: str) -> None:
    """LOGISTIC, TANH, LEAKY_RELU and int8 -> int8 QUANTIZE on all 256 int8 inputs at once."""
    tvm = require_tvm()
    from tvm import relax

    model = tflite_more_ops.EVERY_INPUT[case]()
    data = model.build()
    compiled = compile_model(data)
    vm = relax.VirtualMachine(tvm.compile(compiled.relax_mod, target="llvm"), tvm.cpu())
    x = np.arange(-128, 128, dtype=np.int8)
    expected = tflite_micro_outputs(data, [x])
    got = vm[compiled.entry](tvm.runtime.tensor(x)).numpy()
    np.testing.assert_array_equal(got, expected, err_msg=case)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            OpModel(
                "SOFTMAX", [((1, 4), 0.1, 0)], ((1, 4), 0.1, 0), options=("SoftmaxOptions", {"beta": 1.0})
            ),
            "operator 0 (SOFTMAX): an int8 softmax output needs scale 1/256 and zero point -128 "
            "(TFLite Micro)",
        ),
        (
            OpModel(
                "ADD",
                [((1, 4), 0.1, 0), ((1, 4), 0.2, 0)],
                ((1, 4), 0.1, 0),
                options=("AddOptions", {"fusedActivationFunction": 4}),
            ),
            "operator 0 (ADD): fused activation TANH is not supported for int8 models",
        ),
        (
            OpModel(
                "AVERAGE_POOL_2D",
                [((1, 4, 4, 2), 0.1, 0)],
                ((1, 2, 2, 2), 0.2, 0),
                options=(
                    "Pool2DOptions",
                    {"padding": VALID, "strideW": 2, "strideH": 2, "filterWidth": 2, "filterHeight": 2},
                ),
            ),
            "operator 0 (AVERAGE_POOL_2D): input and output quantization differ; "
            "TFLite Micro needs them equal",
        ),
    ],
)
def test_operator_errors_name_the_operator(model: OpModel, message: str) -> None:
    _assert_refused(model, message)


@pytest.mark.parametrize(("model", "message", "tflite_micro_refuses"), tflite_more_ops.ERRORS)
def test_new_operator_errors_name_the_operator(
    model: OpModel | Chain, message: str, tflite_micro_refuses: bool
) -> None:
    _assert_refused(model, message)
    if tflite_micro_refuses:  # what TFLite Micro will not run, we do not compile either
        with pytest.raises(RuntimeError):
            tflite_micro_outputs(model.build(), random_inputs(model.inputs, np.random.default_rng(0), 8))


def _assert_refused(model: OpModel | Chain, message: str) -> None:
    require_tvm()
    from harness.errors import ModelError
    from harness.models.frontends.tflite_int8 import import_tflite

    with pytest.raises(ModelError) as info:
        import_tflite(model.build())
    assert str(info.value) == message
