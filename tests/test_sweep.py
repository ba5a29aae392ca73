"""`utvm sweep`: a small ONNX model (tests/onnx_models.py) over the host and an -icount QEMU board x
both executors x weights in flash/RAM x tuning none/auto, every cell run for real and checked against
onnxruntime; failing cells kept as rows (no tuned records for the host, weights in RAM on the host, a
model too big for the board); bad flags; the report page rendered in Debian's chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from harness.sweep.pareto import front
from tests.conftest import REPO_ROOT, mlperf_tiny_model, require_tvm
from tests.onnx_models import int8_mlp

UTVM = [sys.executable, "-m", "harness.cli"]
BOARD = "qemu-mps2-an385-semihosting"
Swept = tuple[dict[str, Any], Path]
KEYS = {"target", "executor", "weights", "opt", "tuning", "config", "instructions", "cycles", "flash_bytes",
        "ram_bytes", "max_diff_lsb", "error"}


def utvm(*argv: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*UTVM, *argv], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout,
                          check=False)


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Swept:
    require_tvm()
    tmp = tmp_path_factory.mktemp("sweep")
    model = int8_mlp(tmp / "mlp.onnx")
    done = utvm("sweep", str(model), "--targets", f"host,{BOARD}", "--executor", "graph,aot",
                "--weights", "flash,ram", "--tuning", "none,auto", "--jobs", "2", "--out", str(tmp / "out"),
                "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert json.loads((tmp / "out" / "sweep.json").read_text()) == doc
    return doc, tmp / "out"


def test_every_cell_is_a_row_checked_against_the_models_own_runtime(swept: Swept) -> None:
    doc, _ = swept
    assert doc["model"]["name"] == "mlp" and doc["model"]["format"] == "onnx"
    assert doc["model"]["reference"].startswith("onnxruntime ")
    rows = doc["rows"]
    assert len(rows) == 16
    assert all(set(r) >= KEYS for r in rows)
    cells = {(r["target"], r["executor"], r["weights"], r["tuning"]) for r in rows}
    assert cells == {(t, e, w, u) for t in ("host", BOARD) for e in ("graph", "aot") for w in ("flash", "ram")
                     for u in ("none", "auto")}
    ok = [r for r in rows if r["error"] is None]
    assert {(r["target"], r["weights"], r["tuning"]) for r in ok} == {
        ("host", "flash", "none"), (BOARD, "flash", "none"), (BOARD, "flash", "auto"), (BOARD, "ram", "none")}
    for r in ok:
        assert r["max_diff_lsb"] == 0 and r["flash_bytes"] > 0 and r["ram_bytes"] > 0
        assert r["opt"] is None and r["config"] is None
    params = 16 * 32 * 4 + 32 * 10 * 4  # the model's float weights, copied to RAM at start
    for e in ("graph", "aot"):
        cell = {w: [r for r in ok if (r["target"], r["executor"], r["weights"]) == (BOARD, e, w)]
                for w in ("flash", "ram")}
        flash, ram = ({r["tuning"]: r for r in cell[w]} for w in ("flash", "ram"))
        assert ram["none"]["ram_bytes"] == flash["none"]["ram_bytes"] + params
        assert ram["none"]["instructions"] == pytest.approx(flash["none"]["instructions"], abs=4)
    board = [r for r in ok if r["target"] == BOARD]
    assert all(isinstance(r["instructions"], int) and r["instructions"] > 0 and r["cycles"] is None
               for r in board)  # -icount: exact instructions
    host = [r for r in ok if r["target"] == "host"]
    assert all(r["instructions"] is None and r["seconds"] > 0 for r in host)
    aot, graph = ({r["tuning"]: r for r in board if (r["executor"], r["weights"]) == (e, "flash")}
                  for e in ("aot", "graph"))
    assert aot["none"]["flash_bytes"] < graph["none"]["flash_bytes"]  # no JSON graph, no graph executor


def test_a_failing_cell_is_a_row_with_its_error(swept: Swept, tmp_path: Path) -> None:
    failed = [r for r in swept[0]["rows"] if r["error"] is not None]
    why = {(r["target"], r["weights"], r["tuning"]): r["error"] for r in failed}
    assert len(failed) == 8 and len(why) == 4  # each twice: graph and aot
    assert all(r["instructions"] is None and r["max_diff_lsb"] is None for r in failed)
    assert why[("host", "flash", "auto")] == ("compile: no tuned records ship for host; run `utvm tune` to "
                                              "make some")
    for tuning in ("none", "auto"):  # no weights in RAM on the host, tuned or not
        assert why[("host", "ram", tuning)] == ("configure: target host cannot place its weights in RAM (a "
                                                "host process: its weights are wherever the host puts them)")
    # records tuned with the weights in flash are not used for the configuration with them in RAM
    assert why[(BOARD, "ram", "auto")] == (
        f"compile: no tuned records ship for {BOARD} under configuration weights=ram (records tuned under "
        "one configuration are never used for another); run `utvm tune --config weights=ram` to make some")
    big = int8_mlp(tmp_path / "big.onnx", hidden=42000)  # 4.37 MB of float weights: over the board's flash
    done = utvm("sweep", str(big), "--targets", f"host,{BOARD}", "--out", str(tmp_path / "out"), "--json")
    assert done.returncode == 0, done.stderr
    rows = {r["target"]: r for r in json.loads(done.stdout)["rows"]}
    assert rows["host"]["error"] is None and rows["host"]["max_diff_lsb"] == 0  # the sweep went on
    assert rows[BOARD]["error"].startswith("fit: the model does not fit: its parameters need 4368000 B of "
                                           f"flash and {BOARD} has ")


@pytest.mark.parametrize(("flags", "message"), [
    (["--targets", "host,nowhere"], "--targets: unknown target 'nowhere'; known targets: "),
    (["--targets", "host", "--executor", "graph,jit"], "--executor: unknown value 'jit'; expected some of "
                                                        "graph,aot"),
    (["--targets", "host", "--opt", "O2,O9"], "--opt: unknown value 'O9'; expected some of "),
    (["--targets", "host", "--weights", "flash,,ram"], "--weights 'flash,,ram': an empty value"),
    (["--targets", "host", "--tuning", "none,none"], "--tuning 'none,none': 'none' is given twice"),
    (["--targets", "host", "--jobs", "-1"], "--jobs -1: expected a positive number"),
    (["--targets", "host,qemu-mps2-an385", "--config", "default,fastest"],
     "--config: unknown configuration 'fastest' for host; known: default"),
])
def test_a_bad_flag_is_one_line_and_exit_2(tmp_path: Path, flags: list[str], message: str) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"\x08\x07")  # never read: the flags are checked first
    done = utvm("sweep", str(model), *flags, "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"utvm: error: {message}"), done.stderr
    assert not (tmp_path / "out").exists()


def test_the_pareto_front_is_what_no_other_cell_beats_on_both() -> None:
    points = [(10.0, 5.0), (8.0, 9.0), (12.0, 4.0), (9.0, 9.5), (10.0, 6.0), (20.0, 4.0)]
    assert front(points) == [1, 0, 2]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (ci/install-system.sh)")
def test_the_report_page_renders_in_headless_chromium(swept: Swept, tmp_path: Path) -> None:
    doc, out = swept
    page = out / "report.html"
    assert "http" not in page.read_text().replace("http://www.w3.org/2000/svg", "")  # self-contained
    rendered = chromium_dom(page, tmp_path / "profile")
    assert set(rendered.charts) == {"host", BOARD}
    board = [r for r in doc["rows"] if r["target"] == BOARD and r["error"] is None]
    charts = rendered.charts[BOARD]
    assert len(charts) == 2  # instructions against flash, and against RAM
    for chart, size in zip(charts, ("flash_bytes", "ram_bytes"), strict=True):
        points = [(float(r[size]), float(r["instructions"])) for r in board]
        assert sorted(chart["points"]) == sorted(points)
        assert sorted(chart["pareto"]) == sorted(points[i] for i in front(points)) and chart["pareto"]
        assert chart["fronts"] == 1  # the front's staircase
    assert "no tuned records ship for host" in rendered.failed
    assert "cannot place its weights in RAM" in rendered.failed


def chromium_dom(page: Path, profile: Path) -> Rendered:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}"]
    rendered = Rendered()
    rendered.feed(subprocess.run(["chromium", *flags, "--dump-dom", page.as_uri()], capture_output=True,
                                 text=True, timeout=120, check=False).stdout)
    return rendered


class Rendered(HTMLParser):
    """The rendered DOM's charts per target section (their points, the marked front) and the failed
    cells' table text."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, list[dict[str, Any]]] = {}
        self.target = ""
        self.failed = ""
        self._in_failed = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self.target = a.get("data-target") or ""
            self.charts[self.target] = []
        elif tag == "svg":
            self.charts[self.target].append({"points": [], "pareto": [], "fronts": 0})
        elif tag == "circle":
            xy = (float(a.get("data-x") or "nan"), float(a.get("data-y") or "nan"))
            chart = self.charts[self.target][-1]
            chart["points"].append(xy)
            if "pareto" in (a.get("class") or "").split():
                chart["pareto"].append(xy)
        elif tag == "polyline" and a.get("class") == "front":
            self.charts[self.target][-1]["fronts"] += 1
        elif tag == "table":
            self._in_failed = a.get("class") == "failed"

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.target = ""
        if tag == "table":
            self._in_failed = False

    def handle_data(self, data: str) -> None:
        if self._in_failed:
            self.failed += data


def test_a_sweep_on_lab_boards_leased_as_the_nightly_leases_them(tmp_path: Path) -> None:
    """`--inventory`: the cells of a target with a board in a (virtual) lab run on it, under the
    nightly's lease, given back at the end; a target with no board there: its cells say so."""
    require_tvm()
    from utvm_ci.lab import virtual_lab
    from utvm_ci.lab.lease import Lease

    inventory = tmp_path / "lab" / "lab.yaml"
    plan = virtual_lab.plan(1, ["qemu-mps2-an385"], [], tmp_path / "lab")
    virtual_lab.start(plan, inventory)
    try:
        model, state = int8_mlp(tmp_path / "mlp.onnx"), tmp_path / "state"
        done = subprocess.run([*UTVM, "sweep", str(model), "--targets", f"qemu-mps2-an385,{BOARD}",
                               "--executor", "graph,aot", "--inventory", str(inventory), "--json",
                               "--out", str(tmp_path / "out")], cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=900, env={**os.environ, "UTVM_HIL_STATE": str(state)}, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        rows = json.loads(done.stdout)["rows"]
        on_board = [r for r in rows if r["target"] == "qemu-mps2-an385"]
        assert len(on_board) == 2 and all(r["error"] is None and r["max_diff_lsb"] == 0 and r["instructions"]
                                          for r in on_board)
        elsewhere = [r for r in rows if r["target"] == BOARD]
        assert len(elsewhere) == 2 and all(r["error"].startswith(f"run: no lab board for it: {inventory} has "
                                                                 f"no board of target {BOARD}")
                                           for r in elsewhere)
        assert Lease(state / "leases", plan[0].name).holder() is None  # given back
    finally:
        virtual_lab.stop(inventory)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (ci/install-system.sh)")
def test_kws01_on_two_boards_two_executors_weights_in_flash_and_ram(tmp_path: Path) -> None:
    """Issue 21's sweep: kws01 on an385 and an386 x graph/aot x weights flash/RAM: 8 rows, all within
    1 LSB of TFLite Micro, and its report page in the browser."""
    require_tvm()
    boards = ("qemu-mps2-an385-semihosting", "qemu-mps2-an386-semihosting")
    done = utvm("sweep", str(mlperf_tiny_model("kws01")), "--targets", ",".join(boards), "--executor",
                "graph,aot", "--weights", "flash,ram", "--jobs", "2", "--out", str(tmp_path / "out"),
                "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout)["rows"]
    assert len(rows) == 8 and all(r["error"] is None and r["max_diff_lsb"] <= 1 and r["instructions"] > 0
                                  for r in rows)
    assert {(r["target"], r["executor"], r["weights"]) for r in rows} == {
        (t, e, w) for t in boards for e in ("graph", "aot") for w in ("flash", "ram")}
    for t in boards:
        by = {(r["executor"], r["weights"]): r for r in rows if r["target"] == t}
        for w in ("flash", "ram"):  # AOT: no graph executor, no JSON; no more instructions
            assert by[("aot", w)]["flash_bytes"] < by[("graph", w)]["flash_bytes"]
            assert by[("aot", w)]["instructions"] <= by[("graph", w)]["instructions"]
    rendered = chromium_dom(tmp_path / "out" / "report.html", tmp_path / "profile")
    assert set(rendered.charts) == set(boards)
    for t in boards:
        assert [len(c["points"]) for c in rendered.charts[t]] == [4, 4] and all(
            c["pareto"] and c["fronts"] == 1 for c in rendered.charts[t])
