"""harness.models.compile.fc_pack: the packed weights of the batch-1 fully-connected call on the
SMLAD path (crt/include/utvm/dsp_blocked_fcp.h). The packing undone gives the file's weights back, the
bias carries + 127 w0 over the pairs, a pair that cannot be an int16 halfword leaves the layer as it
was, and ad01 compiled with the blocked kernels emits both forms of each layer's parameters (the M4
model tests run them: tests/test_blocked_models.py, the tuned ad01 of tests/test_ram_budget.py)."""

from __future__ import annotations

import numpy as np

from harness.models.compile.fc_pack import pack
from tests.conftest import mlperf_tiny_model, require_tvm


def unpack(packed: np.ndarray, channels: int, k: int) -> np.ndarray:
    """The inverse of pack's layout: int16 halfwords P = 256 w0 + w1 back to (w0, w1)."""
    groups, full = k // 4, channels // 4 * 4
    flat = packed.reshape(-1).astype(np.int32)
    words = flat[:full * 4 * groups].reshape(full // 4, groups, 4, 2, 2)  # block, group, row, pair, byte
    p = words[..., 1] * 256 + (words[..., 0] & 0xFF)
    p = np.where(p >= 32768, p - 65536, p)
    w1 = words[..., 0]
    w0 = (p - w1) // 256
    out = np.zeros((channels, k), np.int32)
    out[:full, :4 * groups] = np.stack([w0, w1], -1).transpose(0, 2, 1, 3, 4).reshape(full, 4 * groups)
    out[:full, 4 * groups:] = flat[full * 4 * groups:full * k].reshape(full, k - 4 * groups)
    out[full:] = flat[full * k:].reshape(channels - full, k)
    return out


def test_packing_is_undone_and_the_bias_carries_the_correction() -> None:
    rng = np.random.default_rng(7)
    for channels, k in [(4, 4), (8, 128), (6, 13), (3, 7), (128, 640), (13, 1)]:
        wide = rng.integers(-128, 128, (channels, k))
        wide[:, 0:k - 1:2] = np.where(rng.random((channels, k // 2)) < 0.2, -128, wide[:, 0:k - 1:2])
        wide[:, 1::2] = np.where(wide[:, 0:k - 1:2] == -128, np.abs(wide[:, 1::2]) % 128, wide[:, 1::2])
        w = wide.astype(np.int8)  # pairs (-128, w1) with w1 >= 0 only: every pair packs
        bias = rng.integers(-2**31, 2**31, channels, dtype=np.int64).astype(np.int32)
        got = pack(w, bias)
        assert got is not None, (channels, k)
        packed, packed_bias = got
        assert packed.dtype == np.int8 and packed.shape == w.shape and packed_bias.dtype == np.int32
        assert np.array_equal(unpack(packed, channels, k), w.astype(np.int32)), (channels, k)
        full, groups = channels // 4 * 4, k // 4
        even = w[:, :4 * groups:2].astype(np.int64).sum(axis=1)
        want = bias.astype(np.int64) + np.where(np.arange(channels) < full, 127 * even, 0)
        assert np.array_equal(packed_bias, ((want + 2**31) % 2**32 - 2**31).astype(np.int32))


def test_a_pair_out_of_int16_is_not_packed() -> None:
    w = np.zeros((4, 8), np.int8)
    w[2, 4], w[2, 5] = -128, -1  # 256 * -128 - 1 < -32768
    assert pack(w, np.zeros(4, np.int32)) is None
    assert pack(w[:, :7], np.zeros(4, np.int32)) is not None  # in the last k % 4: file order
    w[2, 5] = 0
    assert pack(w, np.zeros(4, np.int32)) is not None
    past = np.vstack([w, np.full((1, 8), -128, np.int8)])  # a fifth row: past the blocks, file order
    assert pack(past, np.zeros(5, np.int32)) is not None


def test_ad01_with_blocked_kernels_holds_both_forms_of_its_parameters() -> None:
    require_tvm()
    from harness.models.compile.blocked import apply_blocked
    from harness.models.compile.model import compile_model

    model = compile_model(mlperf_tiny_model("ad01"), scheduler=apply_blocked)
    packed = [t for t in model.graph.tensors if t.packed is not None]
    assert len(packed) == 20  # ten layers: weights and bias
    assert all(t.packed.nbytes == t.data.nbytes for t in packed)  # type: ignore[union-attr]
    assert model.kernels_c.count("utvm_blk_fc_call(") == 10
    assert all(line.endswith(", 1);") for line in model.kernels_c.splitlines() if "utvm_blk_fc_call(" in line)
    tables = model.graph.to_c()
    assert tables.count("#if UTVM_BLK_FCP_PACKED") == 20 and '#include "utvm/dsp_fcp_layout.h"' in tables


def test_utvm_tune_measures_the_form_each_target_builds() -> None:
    """`utvm tune` measures an ad01 layer's blocked call as the packed call, on the bytes the target's
    parameter tables keep (UTVM_BLK_FCP_PACKED of utvm/dsp_fcp_layout.h): packed on the M4, M7 and
    M33, file order on the M3, the M55 and the host."""
    require_tvm()
    from harness.models.compile.fc_pack import packs_on
    from harness.targets import get_target
    from harness.tune import blocked
    from harness.tune.tasks import extract

    task = next(t for t in extract(mlperf_tiny_model("ad01")) if t.name == "fully_connected_4")
    assert task.packed is not None
    cand = blocked.candidate(task)
    assert cand is not None and str(cand["main"].attrs[blocked.ARGS_ATTR]) == blocked.PACKED_ARGS
    assert "T.call_extern(\"int32\", \"utvm_blk_fc_call\"" in cand.script() and ", 1)" in cand.script()
    for name, packs in [("qemu-mps2-an386", True), ("qemu-mps2-an500-semihosting", True),
                        ("qemu-mps2-an505", True), ("qemu-mps2-an385", False), ("qemu-mps3-an547", False),
                        ("host", False)]:
        target = get_target(name)
        assert packs_on(target) == packs, name
        args = blocked.arguments(task, blocked.PACKED_ARGS, target)
        if not packs:
            assert args is task.args, name
            continue
        w, b = pack(task.args[1], task.args[2].reshape(-1))  # type: ignore[misc]
        assert np.array_equal(args[1], w) and np.array_equal(args[2].reshape(-1), b), name
        assert [a.shape for a in args] == [a.shape for a in task.args]
        assert all(a is b for a, b in zip([args[0], *args[3:]], [task.args[0], *task.args[3:]], strict=True))
