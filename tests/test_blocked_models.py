"""harness.models.compile.blocked.apply_blocked on a real model: MLPerf Tiny's kws01 (DS-CNN: a 10x4 strided
convolution, four 3x3 depthwise and four 1x1 convolutions, a per-tensor fully connected layer), each
of those layers one call into utvm/dsp_blocked_layers.h, bit-exact with TFLite Micro on the host
(portable path), on qemu-mps2-an385 (Cortex-M3, SMLAL tiles), on qemu-mps2-an386 (Cortex-M4, SMLAD) and
on qemu-mps3-an547 (Cortex-M55, Helium)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.device import Device
from harness.models.deploy import reference as references
from harness.models.deploy.check import seeded_agreement
from harness.models.deploy.graph_client import GraphModule
from harness.models.frontends.loaded import read_model
from harness.targets import get_target
from tests.conftest import mlperf_tiny_model, require_tvm

_BUILT: dict[str, Any] = {}


def compiled() -> Any:
    require_tvm()
    from harness.models.compile.blocked import apply_blocked
    from harness.models.compile.model import compile_model

    if "kws01" not in _BUILT:
        _BUILT["kws01"] = compile_model(mlperf_tiny_model("kws01"), scheduler=apply_blocked)
    return _BUILT["kws01"]


def test_every_convolution_and_dense_layer_of_kws01_is_one_blocked_call() -> None:
    from harness.models.compile.blocked import BLOCKED_ATTR, CONV, DEPTHWISE, FC, MATMUL
    from harness.models.int8.attrs import OP_ATTR

    model = compiled()
    entries = {str(f.attrs[BLOCKED_ATTR]) for f in model.relax_mod.functions.values()
               if getattr(f, "attrs", None) and OP_ATTR in f.attrs
               and str(f.attrs[OP_ATTR]) in ("conv2d", "depthwise_conv2d", "fully_connected")
               and BLOCKED_ATTR in f.attrs}
    assert entries == {CONV, DEPTHWISE, MATMUL, FC}  # FC: the batch-1 dense layer, no scratch
    assert model.kernels_c.startswith('#include "utvm/dsp_blocked_layers.h"\n')
    assert "TVM_DLL int32_t utvm_blk_" not in model.kernels_c
    # the tiles' scratch (2k int16) is read by LDM and written by STRD: allocated as int32, word-aligned
    assert "int32_t scratch_ptr[" in model.kernels_c and "int16_t scratch_ptr[" not in model.kernels_c


@pytest.mark.parametrize("target", ["host", "qemu-mps2-an385-semihosting", "qemu-mps2-an386-semihosting",
                                    "qemu-mps3-an547-semihosting"])
def test_kws01_with_apply_blocked_matches_tflite_micro(target: str, tmp_path: Path) -> None:
    from harness.models.deploy.run import build_model_image

    model = compiled()
    reference = references.for_model(read_model(mlperf_tiny_model("kws01")), model)
    with Device(build_model_image(model, get_target(target), tmp_path / "image"), workdir=tmp_path) as client:
        agreement = seeded_agreement(GraphModule(client, model.graph), reference, 2)
    assert agreement.max_diff_lsb == 0 and agreement.top1_agree == 2, agreement
