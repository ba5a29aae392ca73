"""Boards of a HIL inventory as `utvm tune` devices, leased exactly as the nightly leases them.

The same lease directory and TTL as `utvm hil run` (so a lab tunes by day and tests by night, and
neither takes a board the other holds), the same access (a serial port, or a labgrid place) and the
same flash and reset commands. `utvm tune --inventory LAB.yaml --board B` finds this through the
"utvm.tune_devices" entry point: harness never imports the CI service.
"""

from __future__ import annotations

from pathlib import Path

from harness.build import Manifest
from harness.device import Device
from harness.errors import UtvmError
from harness.targets import StartOptions
from harness.tune.runner import DeviceSlot
from utvm_ci.lab import inventory as inventories
from utvm_ci.lab.access import Access, access_for
from utvm_ci.lab.lease import Lease, default_state


class BoardDevice(Device):
    """A device on a lab board: flashed with the image, reset into the session."""

    def __init__(self, manifest: Manifest, workdir: Path, port: str, board: inventories.Board) -> None:
        super().__init__(manifest, timeout=10.0 * board.timeout_multiplier, workdir=workdir,
                         options=StartOptions(serial_port=port, baud=board.baud))
        self.hooks = board.hooks()
        self.port = port

    def start(self, after_open: object = None) -> object:  # type: ignore[override]
        self.hooks.run("flash", self.manifest, self.port)
        reset = (lambda: self.hooks.run("reset", self.manifest, self.port)) if self.hooks.reset else None
        return super().start(after_open=reset)


class LeasedSlot(DeviceSlot):
    """A lab board held under the nightly's lease while the tune runs."""

    def __init__(self, board: inventories.Board, lease: Lease, access: Access, port: str) -> None:
        super().__init__(board.name, lambda manifest, workdir: BoardDevice(manifest, workdir, port, board))
        self.lease, self.access = lease, access

    def close(self) -> None:
        try:
            self.access.release()
        finally:
            self.lease.release()


def inventory_slots(path: Path, boards: list[str], target: str, state: Path | None = None,
                    ttl: float = 60.0) -> list[DeviceSlot]:
    """One slot per named board (default: every board of the target), each leased and acquired."""
    inv = inventories.load(Path(path))
    names = {b.name for b in inv.boards}
    unknown = [b for b in boards if b not in names]
    if unknown:
        raise UtvmError(f"{path} has no board {unknown[0]!r} (it has {sorted(names)})")
    chosen = [b for b in inv.boards if b.name in boards] if boards else [
        b for b in inv.boards if b.target == target]
    if not chosen:
        raise UtvmError(f"{path} has no board of target {target}")
    wrong = [b for b in chosen if b.target != target]
    if wrong:
        raise UtvmError(f"board {wrong[0].name} is a {wrong[0].target}, not a {target}")
    slots: list[DeviceSlot] = []
    try:
        for b in chosen:
            lease = Lease((state or default_state()) / "leases", b.name, ttl=ttl).acquire(wait=ttl + 5)
            access = access_for(b)
            try:
                slots.append(LeasedSlot(b, lease, access, access.acquire()))
            except BaseException:
                lease.release()
                raise
    except BaseException:
        for s in slots:
            s.close()
        raise
    return slots
