"""harness.models.compile.mve.apply_mve on a real model: MLPerf Tiny's kws01 (DS-CNN: four padded 3x3
depthwise convolution layers) with its depthwise convolutions tensorized around utvm_dw_mac_s8 and its
convolutions and fully connected layer around the dot products, bit-exact with TFLite Micro on the
host and the boards (the portable and SMLAD builds of the same C; a qemu-mps3-an547 board, when the
registry has one, runs the Helium kernels)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.device import Device
from harness.models.deploy import reference as references
from harness.models.deploy.check import seeded_agreement
from harness.models.deploy.graph_client import GraphModule
from harness.models.frontends.loaded import read_model
from harness.targets import all_targets, get_target
from tests.conftest import mlperf_tiny_model, require_tvm

HELIUM = [t for t in ("qemu-mps3-an547-semihosting",) if t in all_targets()]
TARGETS = ["host", "qemu-mps2-an386", *HELIUM]
_BUILT: dict[str, Any] = {}


def compiled() -> Any:
    require_tvm()
    from harness.models.compile.model import compile_model
    from harness.models.compile.mve import apply_mve

    if "kws01" not in _BUILT:
        _BUILT["kws01"] = compile_model(mlperf_tiny_model("kws01"), scheduler=apply_mve)
    return _BUILT["kws01"]


def test_every_depthwise_convolution_of_kws01_is_tensorized() -> None:
    from harness.models.compile.mve import DW_ATTR, DW_OP
    from harness.models.int8.attrs import OP_ATTR

    model = compiled()
    dw = [f for f in model.relax_mod.functions.values()
          if getattr(f, "attrs", None) and OP_ATTR in f.attrs and str(f.attrs[OP_ATTR]) == DW_OP]
    assert dw and all(DW_ATTR in f.attrs for f in dw)  # the four layers share their kernel(s)
    assert model.kernels_c.count("utvm_dw_mac_s8(") == len(dw)
    assert model.kernels_c.startswith('#include "utvm/dsp.h"\n')


@pytest.mark.parametrize("target", TARGETS)
def test_kws01_with_apply_mve_matches_tflite_micro(target: str, tmp_path: Path) -> None:
    from harness.models.deploy.run import build_model_image

    model = compiled()
    reference = references.for_model(read_model(mlperf_tiny_model("kws01")), model)
    with Device(build_model_image(model, get_target(target), tmp_path / "image"), workdir=tmp_path) as client:
        agreement = seeded_agreement(GraphModule(client, model.graph), reference, 2)
    assert agreement.max_diff_lsb == 0 and agreement.top1_agree == 2, agreement
