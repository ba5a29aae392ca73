"""The model tier's tuned variant: each model compiled with the board's shipped records (`--tuning auto`)
as its own model in the figures and the baseline (kws01@tuned), on the boards of tier.TUNED_BOARDS only,
held to the committed baseline like an untuned model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.models.deploy import tier
from harness.targets import get_target
from tests.conftest import REPO_ROOT, mlperf_tiny_model, require_tvm
from utvm_ci.presubmit import Presubmit
from utvm_ci.results import baseline

BOARD = "qemu-mps2-an386"
TUNED_TARGETS = ["qemu-mps2-an385", "qemu-mps2-an385-semihosting", "qemu-mps2-an386",
                 "qemu-mps2-an386-semihosting"]


def _pytest(*argv: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "acceptance_tests/test_models.py", "-p",
                           "no:cacheprovider", *argv], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_the_tuned_variant_runs_on_the_boards_of_the_table_only() -> None:
    assert [t for t in ["host", "qemu-mps2-an500", "qemu-mps3-an547", *TUNED_TARGETS]
            if tier.variants(get_target(t))] == TUNED_TARGETS  # the host ships no records
    kws = mlperf_tiny_model("kws01")
    proc = _pytest("--collect-only", "-q", "--target", "host", "--target", "qemu-mps2-an385-semihosting",
                   "--target", "qemu-mps2-an500", f"--utvm-models={kws}", timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    ids = sorted(line.split("[", 1)[1].rstrip("]") for line in proc.stdout.splitlines()
                 if "test_model[" in line)
    board = "qemu-mps2-an385-semihosting"
    assert ids == ["host-kws01", f"{board}-kws01", f"{board}-kws01@tuned",
                   "qemu-mps2-an500-kws01"]  # not collected elsewhere: no skip the gate counts


def test_the_presubmit_expects_the_tuned_figures_where_the_tier_runs_them(tmp_path: Path) -> None:
    job = Presubmit(targets=("host", BOARD), report_dir=tmp_path, models=(Path("kws01.tflite"),))
    assert job.expected() == [("kws01", "host"), ("kws01", BOARD), ("kws01@tuned", BOARD)]
    summary = {"tests": [{"nodeid": "n", "target": t, "outcome": "passed", "message": "",
                          "figures": {"model": "kws01", "flash_bytes": 1}} for t in ("host", BOARD)]}
    rows = baseline.compare(summary, baseline.DEFAULT_PATH, tmp_path, job.expected()).failures
    assert [r.line for r in rows if r.model == "kws01@tuned"] == [
        f"kws01@tuned on {BOARD}: no result in this run (the baseline has figures for it)"]


def test_the_baseline_holds_kws01_tuned_and_the_tier_measures_it_within_the_tolerance(tmp_path: Path) -> None:
    require_tvm()
    base = baseline.load()
    assert {"kws01@tuned", "vww01@tuned", "ic01@tuned", "ad01@tuned"} <= set(base["models"])
    assert set(base["models"]["kws01@tuned"]) == set(TUNED_TARGETS)
    held = base["models"]["kws01@tuned"][BOARD]["instructions"]
    assert held < 0.5 * base["models"]["kws01"][BOARD]["instructions"]  # the tuned kernels, not the default
    proc = _pytest("-q", "-k", "tuned", "--target", BOARD, f"--utvm-models={mlperf_tiny_model('kws01')}",
                   "--utvm-model-inputs=1", f"--utvm-report-dir={tmp_path}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    comparison = baseline.compare(summary, baseline.DEFAULT_PATH, tmp_path, [("kws01@tuned", BOARD)])
    assert comparison.ok, comparison.report(tmp_path)
    assert {(r.model, r.figure) for r in comparison.rows} == {
        ("kws01@tuned", f) for f in ("instructions", "flash_bytes", "ram_bytes")}
    moved = json.loads(baseline.DEFAULT_PATH.read_text())
    moved["models"]["kws01@tuned"][BOARD]["instructions"] = round(held * 0.98)  # the run is 2% slower
    (tmp_path / "moved.json").write_text(json.dumps(moved))
    (row,) = baseline.compare(summary, tmp_path / "moved.json", tmp_path).failures
    assert row.model == "kws01@tuned" and row.figure == "instructions" and row.verdict == "moved"
