"""A lab of virtual boards and its inventory: `utvm hil virtual-lab --boards N --out LAB.yaml`.

Each board is a `utvm virtual-board serve` process (QEMU with its UART on a
pseudo-terminal, behind a fault relay) that outlives the command; the inventory
flashes and resets them through their control sockets, exactly as a lab's
commands would drive real boards. `utvm hil virtual-lab --stop --out LAB.yaml`
stops them. Faults per board: `--fault vboard-2:flash-fail=1,corrupt=0.0001`.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.errors import InfrastructureError, UtvmError
from harness.sim.faults import parse_faults
from harness.targets.qemu import boards

STATE = "virtual-lab.json"  # beside the inventory: the boards' processes


@dataclass(frozen=True)
class VirtualBoardSpec:
    name: str
    target: str
    port: Path
    faults: str = ""


def plan(n: int, targets: list[str], faults: list[str], directory: Path) -> list[VirtualBoardSpec]:
    if n < 1:
        raise UtvmError("--boards must be at least 1")
    for t in targets:
        if t not in boards():
            raise UtvmError(f"{t} is not a QEMU board; known: {', '.join(sorted(boards()))}")
    names = [f"vboard-{i + 1}" for i in range(n)]
    by_board: dict[str, str] = {}
    for item in faults:
        who, sep, spec = item.partition(":")
        name = f"vboard-{who}" if who.isdigit() else who
        if not sep or name not in names:
            raise UtvmError(f"--fault {item!r}: expected BOARD:SPEC with BOARD one of {', '.join(names)} "
                            "(or its number)")
        parse_faults(spec)  # a bad spec fails here, before any board starts
        by_board[name] = ",".join(filter(None, [by_board.get(name, ""), spec]))
    return [VirtualBoardSpec(name, targets[i % len(targets)], directory / name, by_board.get(name, ""))
            for i, name in enumerate(names)]


def _utvm() -> str:
    return f"{shlex.quote(sys.executable)} -m harness.cli"


def inventory(specs: list[VirtualBoardSpec], lab: str = "virtual") -> dict:
    vb = f"{_utvm()} virtual-board"
    return {"lab": lab, "boards": [{
        "name": s.name, "target": s.target, "serial": {"port": str(s.port), "baud": 115200},
        "flash": {"command": f"{vb} flash {{port}} {{elf}}"},
        "reset": {"command": f"{vb} reset {{port}}"},
        "power": {"off": f"{vb} off {shlex.quote(str(s.port))}", "on": f"{vb} on {shlex.quote(str(s.port))}"},
        "tags": ["virtual"], "timeouts": {"flash": 60, "multiplier": 1}} for s in specs]}


def start(specs: list[VirtualBoardSpec], out: Path, timeout: float = 30.0) -> list[int]:
    """Start the boards (detached), wait for their ports, write the inventory; returns their pids."""
    directory = out.parent
    directory.mkdir(parents=True, exist_ok=True)
    pids = []
    for s in specs:
        workdir = directory / f"{s.name}.d"
        workdir.mkdir(exist_ok=True)
        argv = [sys.executable, "-m", "harness.cli", "virtual-board", "serve", "--board", s.target,
                "--port", str(s.port), "--faults", s.faults, "--workdir", str(workdir)]
        with (workdir / "board.log").open("wb") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)  # outlives this command
        pids.append(proc.pid)
    (directory / STATE).write_text(json.dumps({"pids": pids, "boards": [s.name for s in specs]}))
    deadline = time.monotonic() + timeout
    for s, pid in zip(specs, pids, strict=True):
        while not (s.port.exists() and Path(f"{s.port}.ctl").exists()):
            if time.monotonic() > deadline or not _alive(pid):
                stop(out)
                log = (directory / f"{s.name}.d" / "board.log").read_text(errors="replace")[-600:]
                raise InfrastructureError(f"virtual board {s.name} did not come up: {log}")
            time.sleep(0.05)
    text = yaml.safe_dump(inventory(specs), sort_keys=False)
    out.write_text("# written by `utvm hil virtual-lab`\n" + text)
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False


def stop(out: Path, timeout: float = 10.0) -> int:
    """Stop the boards of the lab whose inventory is `out`; returns how many were running."""
    state = out.parent / STATE
    if not state.exists():
        return 0
    pids = json.loads(state.read_text())["pids"]
    running = [p for p in pids if _alive(p)]
    for pid in running:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in running) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in running:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    state.unlink()
    return len(running)
