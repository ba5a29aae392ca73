"""Properties of built images and of the `utvm` command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.build import Manifest
from tests.conftest import KERNELS, build_image


def test_manifest_fields(host_image: Manifest) -> None:
    data = json.loads((Path(host_image.artifact).parent / "manifest.json").read_text())
    assert data["target"] == "host"
    assert Path(data["artifact"]).is_file() and Path(data["rpc_launcher"]).is_file()
    kernels = {"scale", "busy", "add_int", "workspace", "fail_with", "sum_bytes", "crash", "table"}
    assert kernels == set(data["functions"])
    assert all(data["size"][k] > 0 for k in ("text", "data", "bss"))
    assert data["toolchain"].startswith("gcc")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True)


def test_cli_build_writes_manifest(tmp_path: Path) -> None:
    proc = run_cli("build", "--target", "host", "--extra-source", str(KERNELS / "handwritten.c"),
                   "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "scale" in Manifest.load(tmp_path / "manifest.json").functions


@pytest.mark.parametrize(("args", "message"), [
    (["build", "--target", "nope", "--out", "x"], "unknown target 'nope'"),
    (["build", "--target", "host", "--extra-source", "/no/such.c", "--out", "x"], "does not exist"),
])
def test_cli_errors_are_clear(args: list[str], message: str, tmp_path: Path) -> None:
    proc = run_cli(*[a if a != "x" else str(tmp_path) for a in args])
    assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr


def test_cli_bad_kernel_source_is_a_build_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.c"
    bad.write_text("int32_t __tvm_ffi_x(void) { return syntax error }\n")
    proc = run_cli("build", "--extra-source", str(bad), "--out", str(tmp_path / "o"))
    assert proc.returncode == 1 and "compiling" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_wrong_flag_exits_2() -> None:
    proc = run_cli("build", "--out", "x", "--frobnicate")
    assert proc.returncode == 2 and "unrecognized arguments" in proc.stderr


def test_board_manifest_has_bridge_launcher_and_footprint() -> None:
    image = build_image("qemu-mps2-an386", [KERNELS / "handwritten.c"])
    launcher = Path(image.rpc_launcher)
    assert launcher != Path(image.artifact) and launcher.stat().st_mode & 0o111
    assert image.toolchain.startswith("arm-none-eabi-gcc")
    assert image.footprint["flash"]["kernels"] > 0 and image.footprint["ram"]["stack"] > 0


@pytest.mark.parametrize("target", ["host", "qemu-mps2-an385"])
def test_testing_globals_are_only_in_testing_builds(target: str) -> None:
    """A production image (build's default) carries no utvm.testing.* functions; test images do."""
    production = build_image(target, [KERNELS / "handwritten.c"], testing=False)
    testing = build_image(target, [KERNELS / "handwritten.c"])
    assert not production.testing and testing.testing
    assert production.build_key != testing.build_key
    assert b"utvm.testing" not in Path(production.artifact).read_bytes()
    assert b"utvm.testing.echo" in Path(testing.artifact).read_bytes()


def test_bridge_with_a_broken_manifest_says_so(tmp_path: Path) -> None:
    bad = tmp_path / "manifest.json"
    bad.write_text("{not json")
    proc = subprocess.run([sys.executable, "-m", "harness.device.bridge", "--manifest", str(bad), "3", "4"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "cannot read manifest" in proc.stderr


@pytest.mark.parametrize("jobs", ["0", "two"])
def test_a_bad_build_job_count_is_a_clear_error(jobs: str, tmp_path: Path) -> None:
    env = {**os.environ, "UTVM_BUILD_JOBS": jobs}
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "build", "--target", "host", "--extra-source",
                           str(KERNELS / "handwritten.c"), "--out", str(tmp_path)],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 1 and f"UTVM_BUILD_JOBS='{jobs}'" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
