"""The acceptance suite through a virtual serial board: QEMU's UART on a pseudo-terminal,
a fault-injecting relay, pyserial on the harness side, flash and reset by command."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.errors import InfrastructureError, UtvmError
from harness.sim.faults import FaultInjector, FaultPlan
from harness.sim.virtual_board import control
from tests.conftest import REPO_ROOT

UTVM = [sys.executable, "-m", "harness.cli"]
CACHE = REPO_ROOT / "build" / "utvm-cache"
KERNELS = REPO_ROOT / "acceptance_tests" / "kernels"
TARGET = "qemu-mps2-an385"

VirtualBoardFactory = Callable[[str], Path]


@pytest.fixture
def virtual_board(tmp_path: Path) -> Iterator[VirtualBoardFactory]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(faults: str = "") -> Path:
        port = tmp_path / f"board{len(procs)}"
        log = (tmp_path / f"{port.name}.log").open("wb")
        procs.append(subprocess.Popen(
            [*UTVM, "virtual-board", "serve", "--board", TARGET, "--port", str(port), "--faults", faults,
             "--workdir", str(tmp_path)], stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT))
        deadline = time.monotonic() + 30
        while not (port.exists() and Path(f"{port}.ctl").exists()):
            assert procs[-1].poll() is None, (tmp_path / f"{port.name}.log").read_text()
            assert time.monotonic() < deadline, "virtual board did not come up"
            time.sleep(0.05)
        return port

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def run_suite(port: Path, out: Path, *extra: str, timeout: float = 600,
              firmware: Path | None = None) -> tuple[int, dict, float]:
    utvm = f"{sys.executable} -m harness.cli virtual-board"
    board = ([f"--firmware={firmware}"] if firmware else
             [f"--flash-cmd={utvm} flash {port} {{elf}}", f"--reset-cmd={utvm} reset {port}"])
    argv = [sys.executable, "-m", "pytest", "acceptance_tests", "-p", "no:cacheprovider", "-q", "-rs",
            "--target", TARGET, f"--serial-port={port}", f"--utvm-cache={CACHE}", *board,
            f"--utvm-report-dir={out}", *extra]
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    elapsed = time.monotonic() - start
    summary = out / "summary.json"
    assert summary.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.returncode, json.loads(summary.read_text())["targets"][TARGET], elapsed


def test_suite_passes_through_a_virtual_serial_board(virtual_board: VirtualBoardFactory,
                                                      tmp_path: Path) -> None:
    port = virtual_board("")
    code, counts, _ = run_suite(port, tmp_path / "r")
    assert code == 0, counts
    assert counts["passed"] > 100 and counts["failed"] == counts["error"] == 0, counts
    assert counts["facts"]["serial_port"] == str(port)
    assert "reset" in counts["facts"]["features"] and "serial" in counts["facts"]["features"]


def test_a_board_with_its_own_firmware_runs_what_it_can(virtual_board: VirtualBoardFactory,
                                                        tmp_path: Path) -> None:
    """A vendor's board carries a build without TVM kernels and has no reset command: the
    tests that need those are skipped with the reason, the rest pass."""
    build = tmp_path / "fw"
    subprocess.run([*UTVM, "build", "--target", TARGET, "--extra-source", str(KERNELS / "handwritten.c"),
                    "--testing", "--out", str(build)], cwd=REPO_ROOT, check=True, capture_output=True)
    port = virtual_board("")
    control(port, f"flash {build / 'utvm.elf'}")
    code, counts, _ = run_suite(port, tmp_path / "r", firmware=build)
    assert code == 0, counts
    assert counts["failed"] == counts["error"] == 0 and counts["passed"] > 100, counts
    assert counts["skipped"] >= 5, counts  # TVM kernels (not in this image) and reset tests
    tests = json.loads((tmp_path / "r" / "summary.json").read_text())["tests"]
    reasons = {t["message"] for t in tests if t["outcome"] == "skipped"}
    assert any("lacks reset" in r for r in reasons), reasons
    assert any("image lacks kernels" in r for r in reasons), reasons


def test_suite_passes_at_a_fault_rate_retries_can_absorb(virtual_board: VirtualBoardFactory,
                                                         tmp_path: Path) -> None:
    """About one byte in 125 000 dropped or corrupted (where each fault lands is fixed by the seed),
    chunks split and delayed: every fault becomes an infrastructure error that a retry absorbs."""
    port = virtual_board("drop=0.000003,corrupt=0.000005,split=0.3,delay=0.002,seed=3")
    code, counts, _ = run_suite(port, tmp_path / "r", "--infra-retries=4", "--timeout-multiplier=0.1")
    status = control(port, "status")
    assert code == 0, counts
    assert counts["failed"] == counts["error"] == 0, counts
    assert counts["passed_on_retry"] >= 1, f"no fault reached a test: {status}"


def test_a_hopeless_link_gives_errors_not_failures_or_hangs(virtual_board: VirtualBoardFactory,
                                                           tmp_path: Path) -> None:
    port = virtual_board("drop=0.2,seed=1")
    code, counts, elapsed = run_suite(port, tmp_path / "r", "--infra-retries=1", "--timeout-multiplier=0.05",
                                      timeout=300)
    assert code == 1
    assert counts["failed"] == 0, "a link fault was reported as a wrong result"
    assert counts["error"] > 100 and counts["passed"] + counts["passed_on_retry"] < 10, counts
    assert elapsed < 120, f"a dead link took {elapsed:.0f} s to report"


def test_control_errors_are_clear(virtual_board: VirtualBoardFactory, tmp_path: Path) -> None:
    port = virtual_board("")
    with pytest.raises(InfrastructureError, match="nothing flashed yet"):
        control(port, "on")
    with pytest.raises(InfrastructureError, match="no such image"):
        control(port, f"flash {tmp_path / 'missing.elf'}")
    with pytest.raises(InfrastructureError, match="unknown command 'explode'"):
        control(port, "explode")
    with pytest.raises(InfrastructureError, match="bad fault 'drop=lots'"):
        control(port, "faults drop=lots")
    assert "faults=drop=0.5" in control(port, "faults drop=0.5")
    with pytest.raises(InfrastructureError, match="does not answer"):
        control(tmp_path / "nothing-here", "status")


@pytest.mark.parametrize(("spec", "message"), [
    ("drop", "expected one of"), ("wobble=1", "expected one of"), ("drop=2", "probability"),
    ("delay=-1", "negative"), ("seed=x", "not a number"),
])
def test_fault_plan_errors(spec: str, message: str) -> None:
    with pytest.raises(UtvmError, match=message):
        FaultPlan.parse(spec)


def test_fault_injection_is_seeded_and_counted() -> None:
    plan = FaultPlan.parse("drop=0.1,corrupt=0.1,split=1,seed=9")
    data = bytes(range(256)) * 8
    outs = []
    for _ in range(2):
        inj, pieces = FaultInjector(plan), []
        inj.deliver(data, pieces.append)
        outs.append(pieces)
    assert outs[0] == outs[1] and len(outs[0]) > 1  # same seed, same faults; split in pieces
    got = b"".join(outs[0])
    assert len(got) == len(data) - inj.counts.dropped
    assert 100 < inj.counts.dropped < 300 and 100 < inj.counts.corrupted < 300


def test_a_killed_virtual_board_takes_its_qemu_along(virtual_board: VirtualBoardFactory,
                                                     tmp_path: Path) -> None:
    build = tmp_path / "fw"
    subprocess.run([*UTVM, "build", "--target", TARGET, "--out", str(build)], cwd=REPO_ROOT, check=True,
                   capture_output=True)
    port = virtual_board("")
    control(port, f"flash {build / 'utvm.elf'}")

    def qemus() -> list[str]:
        return subprocess.run(["pgrep", "-f", str(build / "utvm.elf")], capture_output=True,
                              text=True, check=False).stdout.split()

    assert len(qemus()) == 1
    serve = subprocess.run(["pgrep", "-f", "--", f"--port {port}"], capture_output=True, text=True,
                           check=False).stdout.split()
    assert len(serve) == 1
    subprocess.run(["kill", "-9", serve[0]], check=True)
    deadline = time.monotonic() + 10
    while qemus() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not qemus(), "QEMU outlived its virtual board"
