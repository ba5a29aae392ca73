"""Where a model's time goes by layer type (harness.models.deploy.layers): a profiled run of kws01 on
the host, its node times summed per operator beside the MACs of its convolutions and fully connected
layer, which add up to the model's published 2.66 M."""

from __future__ import annotations

from pathlib import Path

from harness.device import Device
from harness.models.deploy.graph_client import GraphModule
from harness.models.deploy.layers import by_layer_type, mac_floor
from harness.models.deploy.run import build_model_image, compile_for
from harness.targets import get_target
from tests.conftest import mlperf_tiny_model, require_tvm


def test_kws01_time_and_macs_by_layer_type(tmp_path: Path) -> None:
    require_tvm()
    target = get_target("host")
    compiled, _ = compile_for(mlperf_tiny_model("kws01"), target)
    with Device(build_model_image(compiled, target, tmp_path / "kws01"), workdir=tmp_path) as client:
        module = GraphModule(client, compiled.graph)
        module.time_run(repeat=1)
        profile = module.profile()
    rows = by_layer_type(compiled, profile)
    assert set(rows) == {"conv2d", "depthwise_conv2d", "fully_connected", "other"}, rows
    total_macs = sum(r.macs for r in rows.values())
    assert abs(total_macs - 2.66e6) / 2.66e6 < 0.005, total_macs  # reference.md: DS-CNN, 2.66 M MACs
    assert rows["other"].macs == 0 and rows["other"].per_mac is None
    assert abs(sum(r.count for r in rows.values()) - sum(t for _, t in profile)) < 1e-12
    assert all(r.per_mac is not None and r.per_mac > 0 for op, r in rows.items() if op != "other")


def test_mac_floor_is_the_widest_multiply_accumulate() -> None:
    assert mac_floor(get_target("qemu-mps3-an547").features) == 1 / 16
    assert mac_floor(get_target("qemu-mps2-an386").features) == 0.5
    assert mac_floor(get_target("qemu-mps2-an385").features) == 0.5  # SMLAL on two packed pixels
