"""The Helium tensor intrinsics (harness.models.compile.intrin_mve): the dot products registered under their
own names with the generic ones' description and implementation, and the depthwise tile
intrinsic on a hand-written depthwise accumulation (20 channels: one full 16-channel group and a
predicated tail on Helium), tensorized, emitted as C with utvm/dsp.h and run on the host and the
boards (a qemu-mps3-an547 board, when the registry has one, runs the Helium kernels), equal to numpy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.device import Device
from harness.targets import all_targets
from tests.conftest import build_image, require_tvm

CH, KH, KW, H, W = 20, 3, 3, 6, 7
OH, OW = H - KH + 1, W - KW + 1
HELIUM = [t for t in ("qemu-mps3-an547",) if t in all_targets()]  # once the registry has the board
TARGETS = ["host", "qemu-mps2-an385", "qemu-mps2-an386", *HELIUM]


def test_dot_intrinsics_mirror_the_generic_ones() -> None:
    require_tvm()
    from tvm.s_tir import TensorIntrin

    from harness.models.compile import intrin_mve

    names = intrin_mve.register_mve_intrinsics()
    assert len(names) == 15 and "utvm_mve_dot_s8_x4_k64_w4" in names
    for name in names:
        generic = TensorIntrin.get("utvm_" + name.removeprefix("utvm_mve_"))
        assert TensorIntrin.get(name).impl.same_as(generic.impl)
    assert intrin_mve.applies(["fpu", "dsp", "mve"]) and not intrin_mve.applies(["fpu", "dsp"])
    with pytest.raises(ValueError, match="depthwise"):
        intrin_mve.dw_name(0, 3, 3)


def depthwise_source() -> str:
    """C of dw_tile(x: int8[1, H, W, CH], w: int8[1, KH, KW, CH], out: int32[1, OH, OW, CH]), its taps
    tensorized with utvm_mve_dw_s8_c20_k3x3."""
    tvm = require_tvm()
    from tvm.script import tirx as T

    from harness.models.compile import intrin_mve
    from harness.models.compile.intrin import with_header

    @T.prim_func(s_tir=True)
    def dw(x: T.Buffer((1, H, W, CH), "int8"), w: T.Buffer((1, KH, KW, CH), "int8"),
           out: T.Buffer((1, OH, OW, CH), "int32")) -> None:
        T.func_attr({"global_symbol": "dw_tile", "tir.noalias": True})
        for n, i, j, c in T.grid(1, OH, OW, CH):
            with T.sblock("init"):
                vn, vi, vj, vc = T.axis.remap("SSSS", [n, i, j, c])
                out[vn, vi, vj, vc] = 0
        for n, i, j, c, y, xx in T.grid(1, OH, OW, CH, KH, KW):
            with T.sblock("update"):
                vn, vi, vj, vc, vy, vx = T.axis.remap("SSSSRR", [n, i, j, c, y, xx])
                out[vn, vi, vj, vc] = out[vn, vi, vj, vc] + (
                    T.Cast("int32", x[vn, vi + vy, vj + vx, vc]) * T.Cast("int32", w[0, vy, vx, vc]))

    sch = tvm.s_tir.Schedule(dw)
    sch.tensorize(sch.get_loops(sch.get_sblock("update"))[3], intrin_mve.dw_name(CH, KH, KW))
    return with_header(tvm.build(sch.mod, target="c").inspect_source())


def expected(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    out = np.zeros((1, OH, OW, CH), np.int64)
    for y in range(KH):
        for xx in range(KW):
            out += x[:, y:y + OH, xx:xx + OW, :].astype(np.int64) * w[:, y, xx, :].astype(np.int64)
    return out.astype(np.int32)


_SOURCE: dict[str, Any] = {}


@pytest.mark.parametrize("target", TARGETS)
def test_depthwise_tile_intrinsic_on_the_device(target: str, tmp_path: Path) -> None:
    if "c" not in _SOURCE:
        _SOURCE["c"] = depthwise_source()
    source = _SOURCE["c"]
    assert source.startswith('#include "utvm/dsp.h"\n') and source.count("utvm_dw_mac_s8(") == 1
    path = tmp_path / "dw_tile.c"
    path.write_text(source)
    rng = np.random.default_rng(3)
    with Device(build_image(target, [path]), workdir=tmp_path) as client:
        run = client.system_lib()["dw_tile"]
        for extreme in (False, True):
            x, w = (np.full(shape, -128, np.int8) if extreme else rng.integers(-128, 128, shape, np.int8)
                    for shape in ((1, H, W, CH), (1, KH, KW, CH)))
            with client.tensor(x) as tx, client.tensor(w) as tw, client.empty((1, OH, OW, CH), "i4") as to:
                run(tx, tw, to)
                np.testing.assert_array_equal(to.numpy(), expected(x, w), err_msg=f"extreme={extreme}")
