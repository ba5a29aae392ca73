"""How the runner reaches a board's serial port: directly, or through a labgrid place.

An Access is acquired for the night and released after; `acquire` returns what
pyserial opens (a device path, or `rfc2217://host:port` for a port a labgrid
exporter serves). Board kinds are a registry, not a chain of ifs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from harness.errors import InfrastructureError
from utvm_ci.lab.inventory import Board


class Access(ABC):
    @abstractmethod
    def acquire(self) -> str: ...

    @abstractmethod
    def release(self) -> None: ...


class SerialAccess(Access):
    """A port on this machine; it must exist when the night starts."""

    def __init__(self, board: Board) -> None:
        self.port = board.port or ""

    def acquire(self) -> str:
        if "://" not in self.port and not os.path.exists(self.port):
            raise InfrastructureError(f"serial port {self.port} does not exist (board unplugged?)")
        return self.port

    def release(self) -> None:
        pass


class LabgridAccess(Access):
    """A labgrid place: acquired through `labgrid-client`, its NetworkSerialPort opened over RFC 2217.

    The coordinator is the inventory's, or LG_COORDINATOR's as for labgrid-client.
    """

    def __init__(self, board: Board) -> None:
        self.place = board.labgrid_place or ""
        self.coordinator = board.labgrid_coordinator
        self.acquired = False

    def _client(self, *args: str, timeout: float = 60) -> str:
        beside = Path(sys.executable).with_name("labgrid-client")  # a virtual environment's, not on PATH
        exe = shutil.which("labgrid-client") or (str(beside) if beside.exists() else None)
        if exe is None:
            raise InfrastructureError("labgrid-client is not installed (pip install labgrid)")
        where = ["-x", self.coordinator] if self.coordinator else []
        try:
            proc = subprocess.run([exe, *where, "-p", self.place, *args], capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise InfrastructureError(f"labgrid-client {' '.join(args)} on {self.place} timed out") from None
        if proc.returncode != 0:
            raise InfrastructureError(f"labgrid-client {' '.join(args)} on place {self.place} failed: "
                                      f"{(proc.stderr or proc.stdout).strip()[-500:]}")
        return proc.stdout

    def acquire(self) -> str:
        self._client("acquire")
        self.acquired = True
        try:
            return serial_url(self._client("show"))
        except InfrastructureError:
            self.release()
            raise

    def release(self) -> None:
        if self.acquired:
            self.acquired = False
            self._client("release")


def serial_url(show: str) -> str:
    """The RFC 2217 URL of the first NetworkSerialPort in `labgrid-client show` output."""
    host = port = None
    in_serial = False
    for line in show.splitlines():
        text = line.strip()
        if text.startswith("Acquired resource") or text.startswith("Matching resource"):
            in_serial = "NetworkSerialPort" in text
        elif in_serial and "'host':" in text:
            host = text.split("'host':", 1)[1].split(",", 1)[0].strip(" '}")
        elif in_serial and "'port':" in text:
            port = text.split("'port':", 1)[1].split(",", 1)[0].strip(" '}")
        if host and port:
            return f"rfc2217://{host}:{port}?ign_set_control"  # as labgrid opens it (ser2net, ptys)
    raise InfrastructureError(f"the place has no NetworkSerialPort resource:\n{show[-800:]}")


ACCESS: dict[str, Callable[[Board], Access]] = {"serial": SerialAccess, "labgrid": LabgridAccess}


def access_for(board: Board) -> Access:
    return ACCESS["labgrid" if board.labgrid_place else "serial"](board)
