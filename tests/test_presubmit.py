"""`utvm ci presubmit`: the suite on several targets in one job, QEMU boards in containers,
with exit codes that tell a failing change from failing infrastructure."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import KERNELS, REPO_ROOT
from utvm_ci.job import EXIT_FAILED, EXIT_INFRA, EXIT_OK
from utvm_ci.presubmit import Presubmit, verdict

UTVM = [sys.executable, "-m", "harness.cli"]


def test_presubmit_runs_the_suite_on_host_and_a_board_in_a_container(tmp_path: Path) -> None:
    proc = subprocess.run([*UTVM, "ci", "presubmit", "--targets", "host,qemu-mps2-an505",
                           "--report-dir", str(tmp_path), "--workers", "2", "--no-models"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == EXIT_OK, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "utvm ci presubmit: PASSED on 2 targets" in proc.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["targets"]) == {"host", "qemu-mps2-an505"}
    board = ET.parse(tmp_path / "junit-qemu-mps2-an505.xml").getroot()
    props = {p.get("name"): p.get("value") for p in board.iter("property")}
    assert props["container_image"].startswith("utvm-qemu:") and props["qemu"].startswith("QEMU emulator")
    assert "container" in props["features"] and len(props["image_sha256"]) == 64


def test_presubmit_usage_errors(tmp_path: Path) -> None:
    proc = subprocess.run([*UTVM, "ci", "presubmit", "--targets", "host,nope", "--report-dir", str(tmp_path)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "unknown target 'nope'" in proc.stderr


SUITES = {
    "failure": "def test_x(rpc):\n    assert rpc.get_function('add_int')(1, 1) == 3\n",
    "build": "def test_x(rpc):\n    pass\n",
    "infrastructure": "from harness.errors import TransportTimeout\n"
                      "def test_x(dut):\n    raise TransportTimeout('link lost')\n",
}


@pytest.mark.parametrize(("kind", "code"), [("failure", EXIT_FAILED), ("build", EXIT_FAILED),
                                           ("infrastructure", EXIT_INFRA)])
def test_exit_code_tells_a_bad_change_from_bad_infrastructure(tmp_path: Path, kind: str, code: int) -> None:
    """A wrong result and a change that does not build are failures (exit 1, never retried);
    a fault of the machinery is infrastructure (exit 3)."""
    suite = tmp_path / "suite"
    suite.mkdir()
    kernels = KERNELS / "handwritten.c"
    if kind == "build":
        kernels = tmp_path / "broken.c"
        kernels.write_text("int32_t __tvm_ffi_broken(void) { return undeclared; }\n")
    (suite / "conftest.py").write_text(
        f"from pathlib import Path\ndef pytest_utvm_image_sources(config):\n"
        f"    return [Path({str(kernels)!r})]\n")
    (suite / "test_one.py").write_text(SUITES[kind])
    job = Presubmit(targets=("host",), report_dir=tmp_path / "r", containers=False, workers="1", suite=suite)
    assert job.run() == code


def test_verdict_counts() -> None:
    def summary(**counts: int) -> dict:
        base = dict.fromkeys(("passed", "failed", "error", "skipped", "passed_on_retry"), 0)
        return {"targets": {"t": {**base, **counts}}}
    assert verdict(summary(passed=3, passed_on_retry=1), 1.0) == EXIT_OK
    assert verdict(summary(passed=3, error=1), 1.0) == EXIT_INFRA
    assert verdict(summary(failed=1, error=1), 1.0) == EXIT_FAILED


def test_a_missing_model_is_a_usage_error_before_anything_runs(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    proc = subprocess.run([*UTVM, "ci", "presubmit", "--targets", "host", "--report-dir", str(tmp_path / "r"),
                           "--models-dir", str(tmp_path / "models")],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert f"no model kws01, vww01, ic01, ad01 in {tmp_path / 'models'}" in proc.stderr
    assert "--no-models" in proc.stderr and not (tmp_path / "r").exists()


def test_the_models_go_to_the_plugin(tmp_path: Path) -> None:
    models = (tmp_path / "kws01.tflite", tmp_path / "ad01.tflite")
    job = Presubmit(targets=("host",), report_dir=tmp_path, models=models)
    argv = job.pytest_argv()
    assert [a for a in argv if a.startswith("--utvm-models")] == [f"--utvm-models={m}" for m in models]
    assert "--utvm-models" not in " ".join(Presubmit(targets=("host",), report_dir=tmp_path).pytest_argv())
