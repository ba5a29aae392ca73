"""Requantization constants stored narrow (harness.models.compile.rq_pack, utvm/dsp_blocked_rqpack.h):
the packing round-trips or refuses, and kws01's parameters on the M4 with its shipped records come
within 1.05 x the model's own constant bytes. The C unpacking is checked against its tables in
crt/tests/blocked_check.c (host under sanitizers, QEMU on every path); the models' outputs stay 0 LSB
from TFLite Micro in the model tier's tuned variant and in the fuzz slice of blocked schedules."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.models.compile import blocked
from harness.models.compile.graph import Graph, Node, TensorInfo
from harness.models.compile.rq_pack import layout, pack, unpack, weight_sums
from harness.models.deploy.run import compile_for
from harness.targets import get_target

MODELS = Path(__file__).resolve().parents[2] / "shared" / "models" / "mlperf-tiny"
KWS01_CONSTANTS = 24_376  # bytes of the .tflite's buffers (../shared/reference.md)


def _tables(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    wsum = rng.integers(-127 * 64, 127 * 64, n)
    r = rng.integers(-(2**14), 2**14, n)
    zp = -128
    bias = (r - zp * wsum).astype(np.int32)
    mult = rng.integers(2**30, 2**31, n).astype(np.int32)
    shift = rng.integers(-9, -1, n).astype(np.int8)
    return bias, mult, shift, wsum


def test_packed_tables_come_back_bit_for_bit() -> None:
    rng = np.random.default_rng(29)
    for n in (1, 7, 64, 255):
        bias, mult, shift, wsum = _tables(rng, n)
        base = int(shift.min())
        packed = pack(bias, mult, shift, wsum, base, -128)
        assert packed is not None
        halves, words = packed
        assert halves.dtype == np.int16 and words.dtype == np.int32 and halves.size == words.size == n
        for got, want in zip(unpack(halves, words, wsum, base, -128), (bias, mult, shift), strict=True):
            np.testing.assert_array_equal(got, want)


def test_tables_that_do_not_fit_are_refused() -> None:
    bias, mult, shift, wsum = _tables(np.random.default_rng(3), 16)
    base = int(shift.min())
    dead = mult.copy()
    dead[3] = 0  # a dead channel's multiplier has no bit 30
    assert pack(bias, dead, shift, wsum, base, -128) is None
    far = bias.copy()
    far[5] = 2**14 - 128 * int(wsum[5])  # r = 2^14 at zp -128: one past 15 bits
    assert pack(far, mult, shift, wsum, base, -128) is None
    assert pack(bias, mult, shift, wsum, base, -127) is None  # the zero point the biases were folded at
    wide = shift.copy()
    wide[0] = base + 8  # offsets 0..7 only
    assert pack(bias, mult, wide, wsum, base, -128) is None
    assert pack(bias, mult, shift, wsum, base + 1, -128) is None  # an offset below the base


def test_layouts_walk_each_channels_weights() -> None:
    w = (np.arange(2 * 3 * 3 * 5) - 40).reshape(2, 3, 3, 5).astype(np.int8)  # [C, kh, kw, cin]
    assert layout(blocked.CONV, w) == (45, 45, 1)
    np.testing.assert_array_equal(weight_sums(blocked.CONV, w), w.reshape(2, -1).astype(np.int64).sum(1))
    d = w.reshape(1, 3, 3, 10)  # depthwise [1, kh, kw, C]
    assert layout(blocked.DEPTHWISE, d) == (9, 1, 10)
    np.testing.assert_array_equal(weight_sums(blocked.DEPTHWISE, d), d.reshape(9, 10).astype(np.int64).sum(0))


def test_unused_params_are_dropped_and_the_rest_renumbered() -> None:
    t = [TensorInfo(0, "x", (4,), "int8", "input"),
         TensorInfo(1, "gone", (4,), "int8", "param", np.zeros(4, np.int8)),
         TensorInfo(2, "w", (4,), "int8", "param", np.ones(4, np.int8)),
         TensorInfo(3, "y", (4,), "int8", "output")]
    g = Graph(t, [Node("k", [0, 2, 3])], inputs=[0], outputs=[3])
    g.drop_unused_params().validate()
    assert [x.name for x in g.tensors] == ["x", "w", "y"] and [x.id for x in g.tensors] == [0, 1, 2]
    assert g.nodes[0].args == [0, 1, 2] and g.outputs == [2]


def test_kws01_on_the_m4_keeps_its_parameters_within_1_05_of_its_constants() -> None:
    model = MODELS / "kws01.tflite"
    assert model.is_file(), f"needs {model}"
    compiled, _ = compile_for(model, get_target("qemu-mps2-an386-semihosting"), tuning="auto")
    params = compiled.graph.plan_stats["params_bytes"]
    assert params <= 1.05 * KWS01_CONSTANTS, params
    packed = {n.func for n in compiled.graph.nodes if len(n.args) == 5 and "conv" in n.func}
    assert len(packed) == 3, packed  # the first convolution, the pointwise and the depthwise kernels
    assert compiled.kernels_c.count("utvm_blk_rq_unpack(") >= 3
    params = [t for t in compiled.graph.tensors if t.kind == "param"]
    shifts = [t for t in params if t.dtype == "int8" and t.shape == (64,)]
    assert not shifts  # every per-channel shift table is in its multipliers' words


def test_more_channels_than_the_stack_buffers_take_stay_wide() -> None:
    from collections import Counter

    from harness.models.compile.rq_pack import _layer

    n = 256
    bias, mult, shift, _ = _tables(np.random.default_rng(1), n)
    w = np.ones((n, 4), np.int8)
    tensors = [TensorInfo(0, "x", (1, 4), "int8", "input"), TensorInfo(1, "w", (n, 4), "int8", "param", w),
               TensorInfo(2, "b", (n,), "int32", "param", bias),
               TensorInfo(3, "m", (n,), "int32", "param", mult),
               TensorInfo(4, "s", (n,), "int8", "param", shift), TensorInfo(5, "y", (1, n), "int8", "output")]
    g = Graph(tensors, [Node("k", [0, 1, 2, 3, 4, 5])], inputs=[0], outputs=[5])
    assert _layer(g, g.nodes[0], blocked.MATMUL, Counter([0, 1, 2, 3, 4, 5])) is None
