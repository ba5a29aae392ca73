"""Where a sweep's cells run: a local device per cell (QEMU, a host process), or lab boards of an
inventory, leased as the nightly leases them.

Lab boards come through the "utvm.tune_devices" entry point (utvm_ci's `inventory_slots`, the one
`utvm tune --inventory` uses): harness never imports the CI service. A slot is anything with
`make(manifest, workdir) -> Device` and `close()`.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from harness.build import Manifest
from harness.device import Device
from harness.errors import UtvmError

ENTRY_POINTS = "utvm.tune_devices"


class Slot(Protocol):
    name: str

    def make(self, manifest: Manifest, workdir: Path) -> Device: ...

    def close(self) -> None: ...


class Devices:
    """Per target: local devices (as many as asked for at once), or a queue of leased boards."""

    def __init__(self, leased: dict[str, list[Any]] | None = None,
                 missing: dict[str, str] | None = None) -> None:
        self._queues: dict[str, queue.Queue[Any]] = {}
        for target, slots in (leased or {}).items():
            q: queue.Queue[Any] = queue.Queue()
            for s in slots:
                q.put(s)
            self._queues[target] = q
        self.leased = leased or {}
        self.missing = missing or {}  # target -> why no board of it could be had

    @property
    def count(self) -> int:
        """Boards held (0: local devices only)."""
        return sum(len(s) for s in self.leased.values())

    @contextmanager
    def device(self, manifest: Manifest, workdir: Path, target: str) -> Iterator[Device]:
        """A started device on the image: a leased board of the target if there are any, else local."""
        if target in self.missing:
            raise UtvmError(self.missing[target])
        workdir.mkdir(parents=True, exist_ok=True)
        q = self._queues.get(target)
        if q is None:
            with Device(manifest, workdir=workdir) as client:
                yield client
            return
        slot = q.get()
        try:
            (workdir / slot.name).mkdir(parents=True, exist_ok=True)
            with slot.make(manifest, workdir / slot.name) as client:
                yield client
        finally:
            q.put(slot)

    def close(self) -> None:
        for slots in self.leased.values():
            for s in slots:
                s.close()


def lab_devices(inventory: Path, targets: list[str]) -> Devices:
    """Every board of each target in the inventory, leased (a target with none: its cells say so)."""
    found = {e.name: e for e in entry_points(group=ENTRY_POINTS)}
    if "inventory" not in found:
        raise UtvmError("--inventory needs utvm's CI service (utvm_ci) installed beside the harness")
    make = found["inventory"].load()
    leased: dict[str, list[Any]] = {}
    missing: dict[str, str] = {}
    try:
        for target in targets:
            try:
                leased[target] = list(make(Path(inventory), [], target))
            except UtvmError as exc:
                missing[target] = f"no lab board for it: {exc}"
    except BaseException:
        Devices(leased).close()
        raise
    return Devices(leased, missing)
