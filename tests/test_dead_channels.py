"""Dead-channel elimination (harness.models.int8.dead_channels) on a small model built for it: zero-weight
channels whose constant is the zero point go through a padded depthwise layer, the others stay; every
dead channel before an average pool, a reshape and a fully connected layer folds into its bias. The
model runs on the host and under QEMU bit for bit as TFLite Micro runs the model as written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.device import Device
from harness.fuzz.tflite_model import Chain, OpModel, tflite_micro_outputs
from harness.models.deploy.graph_client import GraphModule
from harness.models.int8.tflite_model import TFLiteModel
from harness.targets import get_target
from tests.conftest import mlperf_tiny_model, require_tvm

IN = ((1, 6, 6, 4), 0.05, 3)
RELU, SAME, VALID = 1, 0, 1
DEAD_FIRST = {1: -(1 << 24), 3: -(1 << 24), 5: 9000, 6: 0}  # channel: bias (K == zp for the first two, 6)
DEAD_SECOND = {0: 5000, 2: -(1 << 20), 7: 0}


def _layer(rng: np.random.Generator, w_shape: tuple[int, ...], axis: int, x_scale: float,
           dead: dict[int, int]) -> list[tuple]:
    """Per-channel int8 weights along `axis` (channels in `dead` all zero, with that bias) and biases."""
    channels = w_shape[axis]
    scales = [float(s) for s in np.float32(rng.uniform(0.004, 0.02, channels))]
    w = rng.integers(-127, 128, size=w_shape, dtype=np.int8)
    bias = rng.integers(-3000, 3000, size=(channels,), dtype=np.int32)
    for c, b in dead.items():
        np.moveaxis(w, axis, 0)[c] = 0
        bias[c] = b
    return [(w, scales, axis), (bias, [x_scale * s for s in scales], 0)]


def dead_model() -> bytes:
    """in (1,6,6,4) -> CONV 1x1 4->8 -> DEPTHWISE 3x3 SAME -> CONV 1x1 8->8 -> AVERAGE_POOL 6x6 ->
    RESHAPE (1,8) -> FULLY_CONNECTED 3; ReLU on the convolutions."""
    rng = np.random.default_rng(11)
    conv = ("Conv2DOptions", {"padding": VALID, "strideW": 1, "strideH": 1, "fusedActivationFunction": RELU})
    dw = ("DepthwiseConv2DOptions", {"padding": SAME, "strideW": 1, "strideH": 1, "depthMultiplier": 1,
                                     "fusedActivationFunction": RELU})
    pool = ("Pool2DOptions", {"padding": VALID, "strideW": 6, "strideH": 6, "filterWidth": 6,
                              "filterHeight": 6})
    fc_w = rng.integers(-127, 128, size=(3, 8), dtype=np.int8)
    fc_b = rng.integers(-2000, 2000, size=(3,), dtype=np.int32)
    return Chain([
        OpModel("CONV_2D", [IN], ((1, 6, 6, 8), 0.4, -100), _layer(rng, (8, 1, 1, 4), 0, 0.05, DEAD_FIRST),
                conv),
        OpModel("DEPTHWISE_CONV_2D", [((1, 6, 6, 8), 0.4, -100)], ((1, 6, 6, 8), 0.8, -110),
                _layer(rng, (1, 3, 3, 8), 3, 0.4, {}), dw),
        OpModel("CONV_2D", [((1, 6, 6, 8), 0.8, -110)], ((1, 6, 6, 8), 0.6, -100),
                _layer(rng, (8, 1, 1, 8), 0, 0.8, DEAD_SECOND), conv),
        OpModel("AVERAGE_POOL_2D", [((1, 6, 6, 8), 0.6, -100)], ((1, 1, 1, 8), 0.6, -100), [], pool),
        OpModel("RESHAPE", [((1, 1, 1, 8), 0.6, -100)], ((1, 8), 0.6, -100), [],
                ("ReshapeOptions", {"newShape": [1, 8]})),
        OpModel("FULLY_CONNECTED", [((1, 8), 0.6, -100)], ((1, 3), 8.0, 5),
                [(fc_w, [0.01], 0), (fc_b, [0.006], 0)]),
    ]).build()


def test_exact_dead_channels_fold_away() -> None:
    from harness.models.frontends import tflite_reader as reader
    from harness.models.int8.dead_channels import eliminate_dead_channels

    model = reader.parse(dead_model())
    out = eliminate_dead_channels(model)
    shapes = [tuple(out.tensors[op.inputs[1]].shape) for op in out.operators if len(op.inputs) > 1]
    # first conv: channels 1, 3 and 6 (constant = zero point) cross the padded depthwise, 5 stays;
    # second conv: all three dead channels fold into the fully connected layer's bias.
    assert shapes[:3] == [(5, 1, 1, 4), (1, 3, 3, 5), (5, 1, 1, 5)], shapes
    assert tuple(out.tensors[out.operators[-1].inputs[1]].shape) == (3, 5)
    assert tuple(model.tensors[model.operators[0].inputs[1]].shape) == (8, 1, 1, 4)  # the input is kept


@pytest.mark.parametrize("target", ["host", "qemu-mps2-an386"])
def test_dead_channel_model_bit_exact_with_tflite_micro(target: str, tmp_path: Path) -> None:
    require_tvm()
    from harness.models.compile.model import compile_model
    from harness.models.deploy.run import build_model_image

    data = dead_model()
    compiled = compile_model(data)
    weights = [t for t in compiled.graph.tensors
               if t.kind == "param" and t.dtype == "int8" and len(t.shape) > 1]
    assert sum(t.nbytes for t in weights) == 5 * 4 + 9 * 5 + 5 * 5 + 3 * 5, [t.shape for t in weights]
    rng = np.random.default_rng(3)
    xs = [rng.integers(-128, 128, size=IN[0], dtype=np.int8) for _ in range(6)]
    xs += [np.full(IN[0], v, np.int8) for v in (-128, 127, IN[2])]
    manifest = build_model_image(compiled, get_target(target), tmp_path / "image")
    with Device(manifest, workdir=tmp_path) as client:
        module = GraphModule(client, compiled.graph)
        for i, x in enumerate(xs):
            np.testing.assert_array_equal(module(x)[0], tflite_micro_outputs(data, [x]), err_msg=f"input {i}")


def test_vww01_dead_channels_whose_constant_is_the_zero_point_fold_away() -> None:
    """vww01 has 971 all-zero output channels; 818 of them output the zero point (and so cross the
    padded depthwise layers) or feed the average pool: those go, the other 153 stay. What is left
    of the model's constants is below a quarter of them."""
    from harness.models.frontends import tflite_reader as reader
    from harness.models.int8.dead_channels import eliminate_dead_channels

    model = reader.parse(mlperf_tiny_model("vww01").read_bytes())
    out = eliminate_dead_channels(model)

    def conv_channels(m: TFLiteModel) -> int:
        return sum(m.tensors[op.inputs[1]].shape[0] for op in m.operators if op.op == "CONV_2D")

    def constant_bytes(m: TFLiteModel) -> int:
        return sum(t.data.nbytes for t in m.tensors if t.data is not None)

    assert conv_channels(model) - conv_channels(out) == 818
    assert constant_bytes(model) == 219_072
    assert constant_bytes(out) < 219_072 // 4, constant_bytes(out)
