"""Leases on boards: a lock with an expiry, renewed while in use.

A lease is a small JSON file per board in a shared directory. Taking one is
atomic (an flock'd critical section); a holder renews it in the background; a
runner killed with SIGKILL stops renewing, so its lease lapses after `ttl` and
the next run gets the board. Nothing ever has to clean up a stale lock by hand.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from harness import resources
from harness.errors import InfrastructureError


def default_state() -> Path:
    """Where a lab's leases (and the nightly's history) live: $UTVM_HIL_STATE, or beside the cache."""
    return Path(os.environ.get("UTVM_HIL_STATE") or resources.work_root() / "hil-state")


class LeaseBusy(InfrastructureError):
    """Someone else holds a live lease on the board."""


@dataclass(frozen=True)
class LeaseInfo:
    board: str
    owner: str
    host: str
    pid: int
    expires: float


class Lease:
    def __init__(self, directory: Path, board: str, ttl: float = 60.0, owner: str | None = None) -> None:
        self.directory, self.board, self.ttl = Path(directory), board, ttl
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> Path:
        return self.directory / f"{self.board}.lease"

    @contextlib.contextmanager
    def _locked(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / f"{self.board}.lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            yield

    def holder(self) -> LeaseInfo | None:
        """The live lease on the board, if any (an expired one counts as none)."""
        try:
            data = json.loads(self.path.read_text())
            info = LeaseInfo(**data)
        except (OSError, ValueError, TypeError):
            return None
        return info if info.expires > time.time() else None

    def _write(self) -> None:
        info = LeaseInfo(self.board, self.owner, socket.gethostname(), os.getpid(), time.time() + self.ttl)
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(info.__dict__))
        os.replace(tmp, self.path)

    def acquire(self, wait: float = 0.0) -> Lease:
        """Take the lease, waiting up to `wait` seconds for a holder's lease to end or lapse."""
        deadline = time.monotonic() + wait
        while not self._try_take():
            if time.monotonic() >= deadline:
                held = self.holder()
                until = time.strftime("%H:%M:%S", time.localtime(held.expires)) if held else "now"
                owner = held.owner if held else "?"
                raise LeaseBusy(f"board {self.board} is leased by {owner} until {until}")
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        self._thread = threading.Thread(target=self._renew, name=f"lease-{self.board}", daemon=True)
        self._thread.start()
        return self

    def _try_take(self) -> bool:
        with self._locked():
            held = self.holder()
            if held is not None and held.owner != self.owner:
                return False
            self._write()
            return True

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            with self._locked():
                held = self.holder()
                if held is None or held.owner == self.owner:
                    self._write()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._locked():
            held = self.holder()
            if held is not None and held.owner == self.owner:
                self.path.unlink(missing_ok=True)

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
