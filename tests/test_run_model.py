"""`utvm run-model` on ONNX models: one JSON document, saved outputs, clear errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests import onnx_models
from tests.conftest import REPO_ROOT, require_tvm

UTVM = [sys.executable, "-m", "harness.cli"]


def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*UTVM, "run-model", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.mark.parametrize("target", ["host", "qemu-mps2-an385"])
def test_run_model_json_and_outputs(target: str, tmp_path: Path) -> None:
    require_tvm()
    model = onnx_models.mlp(tmp_path / "mlp.onnx")
    x = np.random.default_rng(5).standard_normal((1, 16)).astype("float32")
    np.savez(tmp_path / "in.npz", x=x)
    proc = run(str(model), "--target", target, "--inputs", str(tmp_path / "in.npz"), "--outputs",
               str(tmp_path / "out.npz"), "--repeat", "5", "--json", "--out", str(tmp_path / "b"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)  # exactly one JSON document, nothing else on stdout
    assert report["time_ms"]["median"] > 0 and report["time_ms"]["repeats"] == 5
    parts = {"text", "data", "bss", "runtime", "kernels", "params", "graph_executor"}
    assert parts <= set(report["code_size"])
    assert report["code_size"]["params"] >= (16 * 32 + 32 + 32 * 4) * 4
    assert report["ram"]["arena_bytes"] > 0
    assert report["outputs"] == [{**report["outputs"][0], "shape": [1, 4], "dtype": "float32"}]
    assert report["outputs"][0]["matches_reference"]
    saved = np.load(tmp_path / "out.npz")
    assert list(saved.files) == ["output_0"]
    np.testing.assert_allclose(saved["output_0"].sum(), 1.0, rtol=1e-5)  # a softmax
    if target != "host":
        assert 0 < report["ram"]["stack_used"] < report["ram"]["stack_size"]
        assert report["time_ms"]["spread_pct"] < 0.1  # virtual time: every run takes the same


def test_run_model_text_report_with_random_inputs(tmp_path: Path) -> None:
    require_tvm()
    proc = run(str(onnx_models.mlp(tmp_path / "mlp.onnx")), "--out", str(tmp_path / "b"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "time on device: median" in proc.stdout and "matches onnxruntime" in proc.stdout


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p, "no model file"),
    (lambda p: (p.write_bytes(b"\x08\x01garbage"), p)[1], "cannot read ONNX model"),
    (lambda p: onnx_models.mlp(p, batch="N"), "dynamic shape"),
    (onnx_models.unsupported, "dynamic shape|NonZero|nonzero|not lowered"),
])
def test_run_model_errors_are_clear(tmp_path: Path, make, message: str) -> None:
    require_tvm()
    model = make(tmp_path / "model.onnx")
    proc = run(str(model), "--out", str(tmp_path / "b"), timeout=300)
    assert proc.returncode == 2
    assert "utvm: error:" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert re.search(message, proc.stderr), proc.stderr[-1000:]


def test_run_model_bad_inputs(tmp_path: Path) -> None:
    require_tvm()
    model = onnx_models.mlp(tmp_path / "mlp.onnx")
    np.savez(tmp_path / "in.npz", x=np.zeros((2, 16), "float32"))
    proc = run(str(model), "--inputs", str(tmp_path / "in.npz"), "--out", str(tmp_path / "b"))
    assert proc.returncode == 1 and "shape (2, 16)" in proc.stderr and "expects (1, 16)" in proc.stderr
