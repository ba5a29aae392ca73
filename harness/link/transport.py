"""Byte pipes to a device. A Transport moves bytes; it knows nothing of frames."""

from __future__ import annotations

import ctypes
import os
import select
import signal
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

from harness.errors import TransportClosed, TransportError, TransportTimeout


class Transport(ABC):
    """A bidirectional byte pipe with timeouts."""

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def write(self, data: bytes) -> None: ...

    @abstractmethod
    def read(self, max_bytes: int, timeout: float) -> bytes:
        """At least one byte; TransportTimeout after `timeout` s, TransportClosed at EOF."""

    def describe(self) -> str:
        return type(self).__name__

    def __enter__(self) -> Transport:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def die_with_parent() -> None:
    """Runs in the child before exec: Linux kills it when the parent dies, so a
    killed test run leaves no emulator behind."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class ChildProcessTransport(Transport):
    """The device is a child process; its stdin/stdout are the pipe."""

    def __init__(self, argv: Sequence[str], stderr_path: Path | None = None,
                 exit_grace: float = 2.0, die_with_parent: bool = False) -> None:
        self.argv = list(argv)
        self.stderr_path = stderr_path
        self.exit_grace = exit_grace  # how long close() waits for an exit at EOF before SIGTERM
        # For children that do not end at EOF (QEMU). It costs a fork instead of a vfork.
        self.die_with_parent = die_with_parent
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_file = None

    def open(self) -> None:
        if self.stderr_path is not None:
            self._stderr_file = open(self.stderr_path, "wb")  # noqa: SIM115 - closed in close()
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr_file or subprocess.DEVNULL,
                bufsize=0,
                preexec_fn=die_with_parent if self.die_with_parent else None,
            )
        except OSError as exc:
            raise TransportError(f"cannot start {self.argv[0]}: {exc}") from exc

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise TransportError("transport is not open")
        return self._proc

    def _exit_note(self) -> str:
        code = self.proc.poll()
        if code is None:
            return ""
        note = f" (device process exited with code {code}"
        if self.stderr_path is not None and self.stderr_path.exists():
            tail = self.stderr_path.read_bytes()[-400:].decode(errors="replace").strip()
            if tail:
                note += f"; stderr: {tail}"
        return note + ")"

    def write(self, data: bytes) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            view = memoryview(data)
            while view:
                written = os.write(stdin.fileno(), view)
                view = view[written:]
        except (BrokenPipeError, OSError) as exc:
            raise TransportClosed(f"write to device failed: {exc}{self._exit_note()}") from exc

    def read(self, max_bytes: int, timeout: float) -> bytes:
        stdout = self.proc.stdout
        assert stdout is not None
        fd = stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransportTimeout(f"no bytes from device within {timeout:.3g} s{self._exit_note()}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                data = os.read(fd, max_bytes)
                if not data:
                    self.proc.wait(timeout=5)
                    raise TransportClosed(f"device closed the pipe{self._exit_note()}")
                return data

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()
            try:
                proc.wait(timeout=self.exit_grace)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None

    def describe(self) -> str:
        return f"child process {self.argv[0]}"
