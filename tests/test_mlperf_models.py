"""The MLPerf Tiny int8 models on the host and every QEMU board, Cortex-M3 included: compiled to
integer kernels, run through the graph executor over RPC (run-model's path) and as a packaged
library in standalone firmware, compared with TFLite Micro on seeded inputs.

The models are read from ../shared/models/mlperf-tiny beside the checkout; a missing model fails
the test with its path (it never skips)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from elftools.elf.elffile import ELFFile
from filelock import FileLock

from harness.build import Manifest
from harness.device import Device
from harness.models.compile.model import Compiled
from harness.models.deploy import reference as references
from harness.models.deploy.check import seeded_agreement
from harness.models.deploy.graph_client import GraphModule
from harness.models.deploy.package import package
from harness.models.deploy.run import build_model_image, compile_for, load_inputs
from harness.models.deploy.standalone import build_standalone, run_standalone
from harness.targets import get_target
from tests.conftest import REPO_ROOT, mlperf_tiny_model, require_tvm

NAMES = ["kws01", "vww01", "ic01", "ad01"]
TARGETS = ["host", "qemu-mps2-an385", "qemu-mps2-an386", "qemu-mps2-an500", "qemu-mps2-an505",
           "qemu-mps3-an547"]
SEEDED_INPUTS = 20
ROOT = REPO_ROOT / "build" / "test-mlperf"
FLOAT_HELPERS = ("__aeabi_f", "__aeabi_d")  # soft-float calls on a core without an FPU

_COMPILED: dict[str, Compiled] = {}



def compiled(name: str) -> Compiled:
    require_tvm()
    if name not in _COMPILED:
        _COMPILED[name], _ = compile_for(mlperf_tiny_model(name), get_target("host"))
    return _COMPILED[name]


def image(name: str, target: str) -> Manifest:
    out = ROOT / f"{name}-{target}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):  # xdist workers share the images
        return build_model_image(compiled(name), get_target(target), out)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", NAMES)
def test_model_matches_tflite_micro_on_seeded_inputs(name: str, target: str, tmp_path: Path) -> None:
    ref = references.tflite_micro(mlperf_tiny_model(name))
    with Device(image(name, target), workdir=tmp_path) as client:
        module = GraphModule(client, compiled(name).graph)
        agreement = seeded_agreement(module, ref, SEEDED_INPUTS)
        workspace = client.stats()["workspace"]["high_water"]
    assert agreement.max_diff_lsb <= 1 and agreement.top1_agree == SEEDED_INPUTS, agreement
    assert ref.arena_bytes is not None
    used = compiled(name).graph.arena_bytes + workspace
    assert used <= ref.arena_bytes, f"{name}: activations + workspace {used} B > TFLite Micro's arena "\
        f"{ref.arena_bytes} B"


@pytest.mark.parametrize("name", NAMES)
def test_int8_kernels_use_no_floating_point_on_cortex_m3(name: str) -> None:
    manifest = image(name, "qemu-mps2-an385")
    objects = sorted(Path(manifest.artifact).parent.glob("kernel*.o"))
    assert objects
    for obj in objects:
        with obj.open("rb") as f:
            names = {s.name for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols()}
        float_calls = sorted(n for n in names if n.startswith(FLOAT_HELPERS))
        assert not float_calls, f"{name}: {obj.name} calls {float_calls}"


@pytest.mark.parametrize("name", NAMES)
def test_parameters_stay_int8(name: str) -> None:
    graph = compiled(name).graph
    params = [t for t in graph.tensors if t.kind == "param"]
    weights = [t for t in params if len(t.shape) >= 2]
    assert weights and all(t.dtype == "int8" for t in weights), {t.name: t.dtype for t in weights}
    constant_bytes = {"kws01": 24_376, "vww01": 219_072, "ic01": 78_752, "ad01": 270_880}[name]
    # int8 weights and int32 biases as in the model, plus per-channel requantization tables: an int32
    # multiplier and an int8 shift beside each output channel's int32 bias (5 B more per channel)
    channels = sum(t.shape[0] for t in params if t.dtype == "int8" and len(t.shape) == 1)
    assert graph.plan_stats["params_bytes"] <= constant_bytes + 5 * channels + 64, graph.plan_stats


@pytest.mark.parametrize("target", TARGETS)
def test_packaged_kws01_runs_standalone_and_matches_tflite_micro(target: str, tmp_path: Path) -> None:
    path = mlperf_tiny_model("kws01")
    ROOT.mkdir(parents=True, exist_ok=True)
    with FileLock(str(ROOT / "kws01-package.lock")):
        pkg = package(path, ROOT / "kws01-package", name="kws")
    inputs = load_inputs(pkg.graph, None, seed=3)
    elf = build_standalone(pkg, target, inputs, tmp_path)
    (raw,) = run_standalone(elf, target)
    (expected,) = references.tflite_micro(path).run(inputs)
    got = np.frombuffer(raw, dtype=np.int8).reshape(expected.shape)
    result = references.compare(got, expected)
    assert result["max_diff_lsb"] <= 1 and result["top1_agrees"], result


def _utvm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600, check=False, env=env)


@pytest.mark.parametrize("broken", ["truncated", "not-a-model"])
def test_run_model_on_a_broken_tflite_is_one_line_and_exit_2(broken: str, tmp_path: Path) -> None:
    require_tvm()
    data = mlperf_tiny_model("kws01").read_bytes()
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(data[: len(data) // 3] if broken == "truncated" else b"\x00" * 64)
    proc = _utvm("run-model", str(bad), "--out", str(tmp_path / "b"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("utvm: error:"), proc.stderr[-2000:]


def test_a_model_too_big_for_the_board_is_an_error_before_the_build(tmp_path: Path) -> None:
    """vww01's activations on a board with 64 KiB of RAM: refused with the shortfall, nothing built."""
    require_tvm()
    made = _utvm("port", "new", "tiny-m4", "--cpu", "cortex-m4", "--root", str(tmp_path))
    assert made.returncode == 0, made.stderr
    boards = tmp_path / "boards"
    description = boards / "tiny-m4.toml"
    text = re.sub(r"(?m)^ram = .*$", "ram = [0x2000_0000, 0x0001_0000]", description.read_text())
    description.write_text(text + "workspace = 4096\n" if "workspace" not in text else text)
    env = {**os.environ, "UTVM_BOARD_PATH": str(boards)}
    out = tmp_path / "b"
    vww01 = str(mlperf_tiny_model("vww01"))
    proc = _utvm("run-model", vww01, "--target", "tiny-m4", "--out", str(out), env=env)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "does not fit" in proc.stderr and "B too many" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert not (out / "image").exists()
