"""The model tier in the pre-submit and its baseline gate, with small ONNX models written in code
(tests/onnx_models.py); the regression rule of the nightly page on synthetic nights; the
cross-backend comparison of model outputs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, require_tvm
from tests.onnx_models import int8_mlp
from utvm_ci import suite
from utvm_ci.results import baseline, models_page, trend
from utvm_ci.results.flaky import compare_backends
from utvm_ci.results.history import History, Result

UTVM = [sys.executable, "-m", "harness.cli"]
Done = subprocess.CompletedProcess[str]
TARGETS = "host,qemu-mps2-an385-semihosting"  # a host build and an -icount board (exact instructions)
BOARD = "qemu-mps2-an385-semihosting"
LINE = re.compile(r"^tiny on qemu-mps2-an385-semihosting: \d+\.\d{4} M -> \d+\.\d{4} M instructions "
                  r"\([+-]\d+\.\d%\)$", re.M)


def utvm(*argv: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*UTVM, *argv], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout,
                          check=False)


def presubmit(models: Path, base: Path, report: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return utvm("ci", "presubmit", "--targets", TARGETS, "--no-container", "--workers", "2",
                "--models-dir", str(models), "--models", "tiny", "--baseline", str(base),
                "--report-dir", str(report), *extra)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Done]:
    """(models dir, report dir, the run) of a pre-submit with an empty baseline."""
    require_tvm()
    root = tmp_path_factory.mktemp("tier")
    (root / "models").mkdir()
    int8_mlp(root / "models" / "tiny.onnx")
    base = root / "empty.json"
    base.write_text(json.dumps({"tolerance_pct": 0.5, "models": {}}))
    return root / "models", root / "r1", presubmit(root / "models", base, root / "r1")


def test_a_figure_the_baseline_lacks_fails_and_says_how_to_add_it(first_run) -> None:
    _, report, proc = first_run
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "utvm ci presubmit: PASSED on 2 targets" in proc.stdout  # the suite itself passed
    assert re.search(r"^tiny on qemu-mps2-an385-semihosting: \d+\.\d{4} M instructions, not in the baseline: "
                     rf"add it with `utvm ci baseline --update --from-report {report}", proc.stdout, re.M)
    assert re.search(r"^tiny on host: \d+ flash bytes, not in the baseline", proc.stdout, re.M)
    assert "not in the baseline" in (report / "baseline-comparison.txt").read_text()


def test_junit_and_summary_carry_the_figures(first_run) -> None:
    _, report, _ = first_run
    tests = json.loads((report / "summary.json").read_text())["tests"]
    (board,) = [t for t in tests if t["figures"].get("model") == "tiny" and t["target"] == BOARD]
    figures = board["figures"]
    assert board["outcome"] == "passed" and figures["max_diff_lsb"] <= 1 and figures["inputs"] == 3
    assert figures["instructions"] > 10_000 and figures["flash_bytes"] > 10_000 and figures["ram_bytes"] > 0
    case = ET.parse(report / f"junit-{BOARD}.xml").getroot().find(".//testcase[@name='test_model[" + BOARD
                                                                   + "-tiny]']")
    assert case is not None
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["instructions"] == str(figures["instructions"]) and props["model"] == "tiny"
    assert {"flash_bytes", "ram_bytes", "max_diff_lsb", "cycles"} <= set(props)


def test_the_gate_passes_unchanged_and_fails_a_move_either_way(first_run, tmp_path: Path) -> None:
    models, report, _ = first_run
    base = tmp_path / "models.json"
    updated = utvm("ci", "baseline", "--update", "--from-report", str(report), "--baseline", str(base))
    assert updated.returncode == 0, updated.stderr
    written = json.loads(base.read_text())["models"]["tiny"]
    assert set(written) == {"host", BOARD}
    assert set(written[BOARD]) == {"instructions", "flash_bytes", "ram_bytes"}
    rerun = presubmit(models, base, tmp_path / "r2")  # an unchanged run against the baseline it wrote
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert "every figure within 0.5%" in rerun.stdout
    for factor, sign, code in ((0.95, "+", 1), (1.05, "-", 1), (1.003, "", 0)):  # slower, faster, noise
        edited = tmp_path / f"edited-{factor}.json"
        data = json.loads(base.read_text())
        data["models"]["tiny"][BOARD]["instructions"] = round(data["models"]["tiny"][BOARD]["instructions"]
                                                              * factor)
        edited.write_text(json.dumps(data))
        check = utvm("ci", "baseline", "--from-report", str(tmp_path / "r2"), "--baseline", str(edited))
        assert check.returncode == code, check.stdout + check.stderr
        if code:
            (line,) = LINE.findall(check.stdout)
            assert f"({sign}" in line and "update the baseline in the same change" in check.stdout


def test_a_model_with_more_work_fails_until_the_baseline_is_updated(first_run, tmp_path: Path) -> None:
    _, report, _ = first_run
    base = tmp_path / "models.json"
    assert utvm("ci", "baseline", "--update", "--from-report", str(report), "--baseline",
                str(base)).returncode == 0
    heavier = tmp_path / "heavier"
    heavier.mkdir()
    int8_mlp(heavier / "tiny.onnx", hidden=40)  # a quarter more multiply-adds in its first layer
    proc = presubmit(heavier, base, tmp_path / "r")
    assert proc.returncode == 1, proc.stdout[-3000:]
    (line,) = LINE.findall(proc.stdout)
    assert re.search(r"\(\+\d+\.\d%\)$", line)
    assert re.search(r"^tiny on qemu-mps2-an385-semihosting: \d+ -> \d+ flash bytes \(\+\d+\.\d%\)$",
                     proc.stdout, re.M)
    # `utvm ci baseline --update` running the tier itself writes what the next run accepts
    rewrite = utvm("ci", "baseline", "--update", "--targets", TARGETS, "--no-container", "--workers", "2",
                   "--models-dir", str(heavier), "--models", "tiny", "--baseline", str(base),
                   "--report-dir", str(tmp_path / "rb"))
    assert rewrite.returncode == 0, rewrite.stdout[-2000:] + rewrite.stderr[-2000:]
    assert "tiny on qemu-mps2-an385-semihosting:" in rewrite.stdout
    assert presubmit(heavier, base, tmp_path / "r3").returncode == 0


# ---- the gate's lines, on summaries written by hand ----
def _summary(*entries: tuple[str, str, dict, str]) -> dict:
    return {"tests": [{"nodeid": f"acceptance_tests/test_models.py::test_model[{t}-{m}]", "target": t,
                       "outcome": outcome, "message": "", "figures": {"model": m, **f}}
                      for m, t, f, outcome in entries]}


def test_gate_lines_read_exactly_as_documented(tmp_path: Path) -> None:
    base = tmp_path / "b.json"
    base.write_text(json.dumps({"tolerance_pct": 0.5, "models": {
        "kws01": {"qemu-mps2-an386": {"instructions": 12_310_000, "flash_bytes": 80_000,
                                      "ram_bytes": 20_000}},
        "ad01": {"host": {"flash_bytes": 1000, "ram_bytes": 500}}}}))
    summary = _summary(("kws01", "qemu-mps2-an386", {"instructions": 12_900_000, "flash_bytes": 80_300,
                                                     "ram_bytes": 19_000}, "passed"),
                       ("ad01", "host", {"flash_bytes": 1005, "ram_bytes": 500}, "passed"),
                       ("vww01", "qemu-mps2-an385", {}, "skipped"))
    comparison = baseline.compare(summary, base, Path("REPORT"), [("ic01", "host"), ("ad01", "host")])
    lines = [r.line for r in comparison.failures]
    assert lines == [
        "kws01 on qemu-mps2-an386: 12.31 M -> 12.90 M instructions (+4.8%)",
        "kws01 on qemu-mps2-an386: 20000 -> 19000 RAM bytes (-5.0%)",
        "vww01 on qemu-mps2-an385: no figures (skipped)",
    ]  # flash +0.4% and +0.5% are within the tolerance; ic01 has no baseline and no result
    assert not comparison.ok
    assert comparison.report(Path("REPORT"))[-1].endswith("utvm ci baseline --update --from-report REPORT "
                                                          f"--baseline {base}")


def test_the_default_model_set_is_mlperf_tinys_int8_models_beside_the_checkout() -> None:
    directory = suite.default_models_dir()
    assert directory == REPO_ROOT.parent / "shared" / "models" / "mlperf-tiny"
    files = suite.model_files(directory, suite.MLPERF_TINY)
    assert [f.name for f in files] == ["kws01.tflite", "vww01.tflite", "ic01.tflite", "ad01.tflite"], \
        f"the MLPerf Tiny models are expected in {directory}"


# ---- the nightly page's regression rule ----
def test_the_regression_rule_flags_a_jump_not_noise() -> None:
    noisy = [100.0, 101.0, 99.0, 100.0, 102.0, 98.0, 100.0]  # median 100, MAD 1: the limit is 103
    assert not trend.regression(noisy, 103.0).flagged
    assert not trend.regression(noisy, 90.0).flagged  # faster is no regression
    assert trend.regression(noisy, 103.5).flagged
    assert not trend.regression([100.0, 100.0], 150.0).flagged  # two nights: too few to judge
    exact = [5000.0] * 5  # flash bytes: no noise, so any growth is beyond it
    assert trend.regression(exact, 5001.0).flagged and not trend.regression(exact, 5000.0).flagged
    assert trend.regression([*noisy, 200.0, 100.0], 103.5).flagged  # one odd night does not widen it
    assert trend.regression([1e6] * 20 + [100.0] * 7, 103.0).flagged  # only the last 7 nights count


def test_the_page_flags_a_regression_on_synthetic_nights(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite")
    cycles = [1000, 1010, 990, 1005, 995, 1000, 1002, 1200]  # noise, then a jump
    for night, value in enumerate(cycles):
        run_id = f"n{night}"
        history.start_run(run_id, "rev", "lab", started=1000.0 + night)
        history.record_board(run_id, "b1", "t", "healthy")
        history.record_results(run_id, [Result("b1", "t", "test_model[m]", "passed", figures={
            "model": "m", "cycles": value, "flash_bytes": 4000, "ram_bytes": 300, "outputs_sha256": "ab"})])
        history.finish_run(run_id, "passed", finished=1000.5 + night)
    rows = models_page.rows(history, "n7")
    assert [(r["board"], r["model"], r["regressions"]) for r in rows] == [("b1", "m", ["cycles"])]
    assert not models_page.rows(history, "n6")[0]["regressions"]  # 1002: within the noise
    html = models_page.section(rows, history.model_figures())
    assert trend.RULE in html and "<svg" in html and "cycles regressed" in html and "latency" in html


def test_a_board_whose_model_outputs_differ_from_the_references_is_flagged() -> None:
    def result(board: str, digest: str) -> Result:
        return Result(board, "t", "test_model[kws01]", "passed", figures={"model": "kws01",
                                                                        "outputs_sha256": digest})
    refs = [result("host", "aa"), result("qemu-mps2-an386", "aa")]
    found = compare_backends([result("b1", "aa"), result("b2", "bb")], refs)
    assert [(d.kind, d.boards, d.references) for d in found] == [
        ("model outputs differ", ("b2",), ("host", "qemu-mps2-an386"))]
    assert "kws01" in found[0].meaning
    assert compare_backends([result("b1", "aa")], refs) == []
