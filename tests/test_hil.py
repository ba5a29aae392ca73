"""The nightly runner on virtual labs: QEMU boards on pseudo-terminals, flashed and reset
by command, with faults injected per board."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.sim.virtual_board import control
from tests.conftest import REPO_ROOT, require_tvm
from tests.onnx_models import int8_mlp
from utvm_ci.lab import virtual_lab

UTVM = [sys.executable, "-m", "harness.cli"]
CACHE = REPO_ROOT / "build" / "utvm-cache"
QUICK = "test_rpc and not every_type"  # a slice of the suite for the fault nights
BULKY = "test_tensors"  # a slice that moves enough bytes for a port to vanish under it

Lab = Callable[..., Path]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    inventories: list[Path] = []

    def start(boards: int, *faults: str) -> Path:
        out = tmp_path / f"lab{len(inventories)}" / "lab.yaml"
        argv = [*UTVM, "hil", "virtual-lab", "--boards", str(boards), "--out", str(out)]
        argv += [f"--fault={f}" for f in faults]
        inventories.append(out)
        proc = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return out

    yield start
    for out in inventories:
        virtual_lab.stop(out)


def night(inventory: Path, report: Path, state: Path, *extra: str,
          timeout: float = 900) -> tuple[int, dict, str]:
    argv = [*UTVM, "hil", "run", "--inventory", str(inventory), "--report-dir", str(report),
            "--state", str(state), "--backoff", "0.2", *extra]
    proc = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    summary = report / "summary.json"
    assert summary.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.returncode, json.loads(summary.read_text()), proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def clean_night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, dict, Path, Path]]:
    root = tmp_path_factory.mktemp("clean")
    out = root / "lab.yaml"
    virtual_lab.start(virtual_lab.plan(2, ["qemu-mps2-an385"], [], root), out)
    try:
        code, summary, _ = night(out, root / "report", root / "state", "--no-models")
        yield code, summary, root / "report", root / "state"
    finally:
        virtual_lab.stop(out)


def test_a_clean_night_on_healthy_boards_passes_and_shares_the_suite(clean_night) -> None:
    code, summary, report, state = clean_night
    assert code == 0, summary["boards"]
    assert summary["verdict"] == "passed" and summary["out_of_rotation"] == []
    boards = summary["boards"]
    assert set(boards) == {"vboard-1", "vboard-2"}
    for b in boards.values():
        assert b["health"] == "healthy" and b["passed"] > 40, b  # both boards took a share
        assert b["failed"] == b["error"] == 0
        assert b["firmware_bytes"] > 1000
    ran = sum(b["passed"] + b["skipped"] + b["passed_on_retry"] for b in boards.values())
    assert ran == len(summary["tests"]) >= 150  # every test once, on one board
    assert summary["references"].get("host:passed", 0) > 100  # compared with the host and QEMU
    assert summary["references"].get("qemu-mps2-an385:passed", 0) > 100
    for name in boards:
        junit = (report / f"junit-{name}.xml").read_text()
        assert f'name="board" value="{name}"' in junit and "image_sha256" in junit
    db = sqlite3.connect(state / "history.sqlite")
    (runs,) = db.execute("SELECT COUNT(*) FROM runs WHERE verdict = 'passed'").fetchone()
    (rows,) = db.execute("SELECT COUNT(*) FROM results r JOIN boards b USING (run_id, board) "
                         "WHERE b.kind = 'board'").fetchone()
    assert runs == 1 and rows == len(summary["tests"])


def test_each_fault_class_ends_as_an_infrastructure_outcome_never_a_failure(lab: Lab, tmp_path: Path) -> None:
    """A flash that fails once, a dead board, a board that never boots and a port that vanishes
    mid-run: the sick boards leave the rotation, their tests run again on the healthy board."""
    inventory = lab(5, "1:flash-fail=1", "2:dead=1", "3:no-boot=1", "4:vanish=6000", "5:corrupt=0.0003")
    code, summary, log = night(inventory, tmp_path / "r", tmp_path / "s", "--select", BULKY,
                               "--reference", "")
    boards = summary["boards"]
    assert code == 3 and summary["verdict"] == "infrastructure", log[-3000:]
    assert boards["vboard-1"]["health"] == "healthy"  # its failed flash was retried
    assert boards["vboard-5"]["failed"] == 0  # corrupted bytes are the link's fault, never the runtime's
    assert {"vboard-2", "vboard-3", "vboard-4"} <= set(summary["out_of_rotation"]), log[-3000:]
    assert "vboard-1" not in summary["out_of_rotation"]
    assert "no debug probe" in boards["vboard-2"]["health_message"]
    assert "no StartReply" in boards["vboard-3"]["health_message"]
    assert "vboard-3: power-cycling" in log  # before giving up on it  # flashed, but nothing answers
    outcomes = {t["outcome"] for t in summary["tests"]}
    assert outcomes <= {"passed", "passed_on_retry", "skipped"}, outcomes  # nothing failed, nothing lost
    retried = [t for t in summary["tests"] if t["outcome"] == "passed_on_retry"]
    assert retried and all(t["board"] in ("vboard-1", "vboard-5") for t in retried)
    assert any("vboard-4" in t["message"] for t in retried)  # where it first broke is kept
    assert boards["vboard-1"]["passed_on_retry"] + boards["vboard-5"]["passed_on_retry"] == len(retried)


def test_a_board_out_of_rotation_returns_when_its_health_check_passes(lab: Lab, tmp_path: Path) -> None:
    inventory = lab(1, "1:dead=1")
    code, summary, _ = night(inventory, tmp_path / "r1", tmp_path / "s", "--select", QUICK, "--reference", "",
                             "--retries", "0")
    assert code == 3 and summary["out_of_rotation"] == ["vboard-1"]
    assert summary["tests"] and all(t["outcome"] == "error" and t["error_class"] == "infrastructure"
                                    and "no board" in t["message"] for t in summary["tests"])
    control(inventory.parent / "vboard-1", "faults ")  # repaired
    code, summary, _ = night(inventory, tmp_path / "r2", tmp_path / "s", "--select", QUICK, "--reference", "")
    assert code == 0 and summary["boards"]["vboard-1"]["health"] == "healthy"
    page = (tmp_path / "r2" / "index.html").read_text()
    assert 'class="dot out_of_rotation"' in page and 'class="dot healthy"' in page  # its health over nights


def test_a_port_bug_fails_the_night_and_is_flagged_against_the_references(lab: Lab, tmp_path: Path) -> None:
    """The board keeps its old image whatever is flashed: the kernels the suite needs are missing.
    Those are failures (not re-run, not the lab's trouble), and they pass on the host."""
    inventory = lab(1, "1:stale-image=1")
    code, summary, log = night(inventory, tmp_path / "r", tmp_path / "s", "--select", "test_kernels",
                               "--reference", "host")
    board = summary["boards"]["vboard-1"]
    assert code == 1 and summary["verdict"] == "failed", log[-3000:]
    assert board["health"] == "healthy" and board["failed"] > 0
    failed = [t for t in summary["tests"] if t["outcome"] == "failed"]
    assert all(t["retries"] == 0 and t["error_class"] == "test" for t in failed)  # never re-run
    flagged = {d["test"] for d in summary["discrepancies"] if d["kind"] == "board-only failure"}
    assert flagged == {t["test"] for t in failed}
    assert "board-only failure" in (tmp_path / "r" / "index.html").read_text()


def test_a_bad_inventory_runs_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "lab.yaml"
    bad.write_text("lab: x\nboards:\n  - name: a\n    target: qemu-mps2-an385\n"
                   "    serial: {port: /dev/null}\n    flash: {command: 'true'}\n    baud: 9600\n")
    proc = subprocess.run([*UTVM, "hil", "run", "--inventory", str(bad), "--report-dir", str(tmp_path / "r"),
                           "--state", str(tmp_path / "s")], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 2
    assert f"{bad}:7: boards[0].baud: unknown field" in proc.stderr
    assert not (tmp_path / "s").exists() and not (tmp_path / "r").exists()


def test_a_bad_fault_spec_starts_no_board(tmp_path: Path) -> None:
    proc = subprocess.run([*UTVM, "hil", "virtual-lab", "--boards", "2", "--out", str(tmp_path / "lab.yaml"),
                           "--fault", "2:melt=1"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 1 and "bad fault 'melt=1'" in proc.stderr
    assert not (tmp_path / "lab.yaml").exists() and not (tmp_path / virtual_lab.STATE).exists()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True,
                         check=False)
    return [int(p) for p in out.stdout.split()]


def test_a_runner_killed_with_sigkill_leaves_no_lock(lab: Lab, tmp_path: Path) -> None:
    inventory = lab(1)
    argv = [*UTVM, "hil", "run", "--inventory", str(inventory), "--report-dir", str(tmp_path / "r1"),
            "--state", str(tmp_path / "s"), "--lease-ttl", "3", "--reference", "", "--select", QUICK]
    first = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert first.stdout is not None
    for line in first.stdout:  # kill it while the suite runs on the board
        if "running" in line:
            break
    lease = tmp_path / "s" / "leases" / "vboard-1.lease"
    assert lease.exists()
    first.send_signal(signal.SIGKILL)
    first.wait()
    time.sleep(0.5)
    assert not any(Path(f"/proc/{pid}").exists() for pid in _children(first.pid))
    start = time.monotonic()
    code, summary, log = night(inventory, tmp_path / "r2", tmp_path / "s", "--lease-ttl", "3",
                               "--reference", "", "--select", QUICK)
    assert code == 0, log[-3000:]
    assert summary["boards"]["vboard-1"]["health"] == "healthy"
    assert time.monotonic() - start < 120
    assert not lease.exists()  # released at the end


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (ci/install-system.sh)")
def test_the_report_page_renders_in_headless_chromium(clean_night, tmp_path: Path) -> None:
    report = clean_night[2]
    shot = tmp_path / "index.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    page = (report / "index.html").as_uri()
    dom = subprocess.run(["chromium", *flags, "--dump-dom", page], capture_output=True, text=True,
                         timeout=120, check=False).stdout
    assert "vboard-1" in dom and "Board health" in dom and "<svg" in dom
    assert dom.count('class="cell passed"') >= 100
    subprocess.run(["chromium", *flags, "--window-size=1400,2000", f"--screenshot={shot}", page],
                   capture_output=True, timeout=120, check=False)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1400, 2000)
    assert len(data) > 50_000  # a rendered page, not a blank one
    keep = os.environ.get("UTVM_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


def test_a_stopped_night_releases_its_boards_and_still_reports(lab: Lab, tmp_path: Path) -> None:
    inventory = lab(1)
    argv = [*UTVM, "hil", "run", "--inventory", str(inventory), "--report-dir", str(tmp_path / "r"),
            "--state", str(tmp_path / "s"), "--reference", "", "--no-models"]
    runner = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    assert runner.stdout is not None
    for line in runner.stdout:
        if "running" in line:
            break
    time.sleep(1.0)  # some tests done, most not
    start = time.monotonic()
    runner.send_signal(signal.SIGTERM)
    runner.wait(timeout=120)
    assert runner.returncode == 3 and time.monotonic() - start < 60
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["verdict"] == "interrupted"
    assert any(t["outcome"] == "error" for t in summary["tests"])
    assert not (tmp_path / "s" / "leases" / "vboard-1.lease").exists()  # released, not left to lapse
    assert not any(Path(f"/proc/{pid}").exists() for pid in _children(runner.pid))


def test_a_night_measures_the_models_on_every_board_and_keeps_their_figures(lab: Lab, tmp_path: Path) -> None:
    """The model tier runs on each healthy board (not shared between them) and on the references; its
    figures go into the history's model_figures table, the summary and the page (latency chart, the
    regression rule), and the boards' outputs are compared with the references'."""
    require_tvm()
    models = tmp_path / "models"
    models.mkdir()
    int8_mlp(models / "tiny.onnx")
    inventory = lab(2)
    code, summary, log = night(inventory, tmp_path / "r", tmp_path / "s", "--select",
                               f"({QUICK}) or test_models", "--reference", "host,qemu-mps2-an385",
                               "--models-dir", str(models), "--models", "tiny")
    assert code == 0, log[-3000:]
    assert "model tier: tiny" in log
    ran = {t["board"] for t in summary["tests"] if t["figures"].get("model") == "tiny"}
    assert ran == {"vboard-1", "vboard-2"}  # every board measured
    rows = {r["board"]: r for r in summary["models"]}
    assert set(rows) == {"vboard-1", "vboard-2"}
    one, two = rows["vboard-1"]["cycles"], rows["vboard-2"]["cycles"]
    assert one > 1000 and abs(one - two) <= 2  # one board type, virtual time: equal to the timer's tick
    assert rows["vboard-1"]["flash_bytes"] > 10_000 and rows["vboard-1"]["max_diff_lsb"] <= 1
    assert not any(d["kind"] == "model outputs differ" for d in summary["discrepancies"])
    db = sqlite3.connect(tmp_path / "s" / "history.sqlite")
    stored = db.execute("SELECT board, model, cycles, flash_bytes, ram_bytes, outputs_sha256 FROM "
                        "model_figures ORDER BY board").fetchall()
    assert {b for b, *_ in stored} == {"vboard-1", "vboard-2", "host", "qemu-mps2-an385"}
    assert len({digest for *_, digest in stored}) == 1  # the same outputs on every backend
    page = (tmp_path / "r" / "index.html").read_text()
    models_html = page[page.index("Models on the boards"):page.index("Flaky and quarantined")]
    assert "Regression rule: a night is flagged when its figure exceeds the median of the 7 nights" \
        in models_html
    assert "tiny: latency (cycles per inference) over the nights" in models_html and "<svg" in models_html
    junit = (tmp_path / "r" / "junit-vboard-1.xml").read_text()
    assert 'name="cycles"' in junit and 'name="flash_bytes"' in junit
