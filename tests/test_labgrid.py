"""A board shared through labgrid: a coordinator and an exporter on loopback serve a virtual
board's serial port (ser2net, RFC 2217); the nightly runner acquires the place, runs the suite
over the network port and releases the place."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.errors import InfrastructureError
from tests.conftest import REPO_ROOT
from utvm_ci.lab import access, virtual_lab
from utvm_ci.lab.inventory import Board

BIN = Path(sys.executable).parent
SER2NET = shutil.which("ser2net") or "/usr/sbin/ser2net"
pytestmark = pytest.mark.skipif(not (BIN / "labgrid-coordinator").exists() or not Path(SER2NET).exists(),
                                reason="needs labgrid (the lab extra) and ser2net (ci/install-system.sh)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Labgrid:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.address = f"127.0.0.1:{_free_port()}"
        self.env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}:/usr/sbin:/sbin",
                    "LG_COORDINATOR": self.address}
        self.procs: list[subprocess.Popen[bytes]] = []

    def spawn(self, name: str, *argv: str) -> None:
        log = (self.root / f"{name}.log").open("wb")
        self.procs.append(subprocess.Popen([str(BIN / argv[0]), *argv[1:]], stdout=log,
                                           stderr=subprocess.STDOUT, env=self.env, cwd=self.root))

    def client(self, *argv: str, check: bool = True,
               user: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "LG_USERNAME": user} if user else self.env  # labgrid's name for a client's user
        proc = subprocess.run([str(BIN / "labgrid-client"), *argv], env=env, capture_output=True,
                              text=True, timeout=60, check=False)
        assert proc.returncode == 0 or not check, proc.stdout + proc.stderr
        return proc

    def wait_for(self, resource: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while resource not in self.client("resources", check=False).stdout:
            assert time.monotonic() < deadline, (self.root / "exporter.log").read_text()[-2000:]
            time.sleep(0.3)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def labgrid_lab(tmp_path: Path) -> Iterator[tuple[Labgrid, Path]]:
    inventory = tmp_path / "virtual" / "lab.yaml"
    (spec,) = virtual_lab.plan(1, ["qemu-mps2-an385"], [], inventory.parent)
    virtual_lab.start([spec], inventory)
    lg = Labgrid(tmp_path)
    try:
        lg.spawn("coordinator", "labgrid-coordinator", "-l", lg.address)
        (tmp_path / "exporter.yaml").write_text(  # ser2net serves the board's pty (/dev/pts/N)
            f"vboard:\n  RawSerialPort:\n    port: {os.path.realpath(spec.port)}\n    speed: 115200\n"
            "svc:\n  NetworkService:\n    address: 127.0.0.1\n    username: nobody\n")  # no serial port
        time.sleep(1.0)
        lg.spawn("exporter", "labgrid-exporter", "-c", lg.address, "-n", "lab-host",
                 "--hostname", "127.0.0.1", "exporter.yaml")
        lg.wait_for("lab-host/vboard/NetworkSerialPort")
        lg.client("-p", "m3-shared", "create")
        lg.client("-p", "m3-shared", "add-match", "lab-host/vboard/*")
        vb = f"{sys.executable} -m harness.cli virtual-board"
        (tmp_path / "lab.yaml").write_text(
            "lab: shared\nboards:\n  - name: m3-shared\n    target: qemu-mps2-an385\n"
            f"    labgrid: {{place: m3-shared, coordinator: '{lg.address}'}}\n"
            f"    flash: {{command: '{vb} flash {spec.port} {{elf}}'}}\n"
            f"    reset: {{command: '{vb} reset {spec.port}'}}\n")
        yield lg, tmp_path / "lab.yaml"
    finally:
        lg.stop()
        virtual_lab.stop(inventory)


def _night(inventory: Path, out: Path) -> tuple[int, dict, str]:
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "hil", "run", "--inventory", str(inventory),
                           "--report-dir", str(out / "r"), "--state", str(out / "s"), "--reference", "",
                           "--select", "test_rpc or test_link", "--backoff", "0.2", "--retries", "1"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert (out / "r" / "summary.json").exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.returncode, json.loads((out / "r" / "summary.json").read_text()), proc.stdout


def test_the_runner_acquires_a_labgrid_place_runs_over_rfc2217_and_releases_it(labgrid_lab, tmp_path) -> None:
    lg, inventory = labgrid_lab
    code, summary, log = _night(inventory, tmp_path / "n1")
    board = summary["boards"]["m3-shared"]
    assert code == 0, log[-3000:]
    assert board["health"] == "healthy" and board["passed"] > 30 and board["failed"] == board["error"] == 0
    junit = (tmp_path / "n1" / "r" / "junit-m3-shared.xml").read_text()
    assert "rfc2217://127.0.0.1:" in junit  # the suite ran over the exporter's network port
    assert "acquired: None" in lg.client("-p", "m3-shared", "show").stdout  # released for the next user


def test_a_place_someone_else_holds_takes_the_board_out_of_rotation(labgrid_lab, tmp_path) -> None:
    lg, inventory = labgrid_lab
    lg.client("-p", "m3-shared", "acquire")  # a developer has it
    code, summary, _ = _night(inventory, tmp_path / "n2")
    assert code == 3 and summary["out_of_rotation"] == ["m3-shared"]
    assert "labgrid-client acquire" in summary["boards"]["m3-shared"]["health_message"]
    assert all(t["outcome"] == "error" for t in summary["tests"])
    assert "acquired: None" not in lg.client("-p", "m3-shared", "show").stdout  # still theirs


def test_labgrid_failures_are_infrastructure_errors_and_what_was_taken_is_given_back(labgrid_lab,
                                                                                     monkeypatch) -> None:
    lg, _ = labgrid_lab

    def place(name: str, coordinator: str = lg.address) -> access.LabgridAccess:
        return access.LabgridAccess(Board(name, "qemu-mps2-an385", labgrid_place=name,
                                          labgrid_coordinator=coordinator))

    with pytest.raises(InfrastructureError, match="unreachable"):
        place("m3-shared", f"127.0.0.1:{_free_port()}").acquire()
    with pytest.raises(InfrastructureError, match="no-such-place"):
        place("no-such-place").acquire()
    with socket.socket() as silent:  # accepts connections, never speaks gRPC
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setattr(access, "LABGRID_TIMEOUT", 3.0)
        started = time.monotonic()
        with pytest.raises(InfrastructureError, match="did not answer within"):
            place("m3-shared", f"127.0.0.1:{silent.getsockname()[1]}").acquire()
        assert time.monotonic() - started < 15
        monkeypatch.undo()

    lg.wait_for("lab-host/svc/NetworkService")
    lg.client("-p", "no-serial", "create")
    lg.client("-p", "no-serial", "add-match", "lab-host/svc/*")
    serial, other = place("m3-shared"), place("no-serial")
    with ThreadPoolExecutor(2) as pool:  # as the runner acquires its boards
        url, failed = pool.submit(serial.acquire), pool.submit(other.acquire)
        assert url.result().startswith("rfc2217://127.0.0.1:")
        with pytest.raises(InfrastructureError, match="no NetworkSerialPort"):
            failed.result()
    assert "acquired: None" in lg.client("-p", "no-serial", "show").stdout  # given back at once

    lg.client("-p", "m3-shared", "release", "--kick", user="dev")  # kicked out, and a developer takes it
    lg.client("-p", "m3-shared", "acquire", user="dev")
    serial.release()
    holder = f"acquired: {os.environ.get('LG_HOSTNAME', socket.gethostname())}/dev\n"
    assert holder in lg.client("-p", "m3-shared", "show").stdout  # left to the developer
