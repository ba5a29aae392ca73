"""The runner: images on a pool of devices, each candidate checked, then timed on the device.

A device opens an image once, uploads each task's arguments once, and runs the task's reference
kernel (the default schedule) for the expected output and the "before" time. Each candidate then
runs (on its task's arguments, or on its own where it has them: a packed fully-connected call's
weights) on an output buffer filled with something else: a candidate whose output differs is rejected
(a wrong fast kernel never counts). Time comes from the on-device timer through the runtime's
time evaluator, the path `run-model` uses. A candidate that faults or hangs the device is an
error of its own: the device is started again and the image goes on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.build import Manifest
from harness.device import Device
from harness.errors import UtvmError, last_line
from harness.tune.builder import Artifact

FAULTS = (UtvmError, TimeoutError, OSError)


@dataclass
class Measured:
    """One candidate's result: seconds per call, or why there is none."""

    seconds: float | None = None
    error: str | None = None
    rejected: bool = False  # ran, but its output was wrong
    ref_seconds: float | None = None


@dataclass
class DeviceSlot:
    """One device of the pool: how to start it on an image, and how many images it ran."""

    name: str
    make: Callable[[Manifest, Path], Device]
    images: int = 0
    restarts: int = 0

    def close(self) -> None:
        """Give the device back (a lab board's lease); nothing to do for a local one."""

    def run(self, manifest_path: str, arts: list[Artifact], workdir: Path) -> list[Measured]:
        """Every candidate of one built image, on this device."""
        manifest = Manifest.load(Path(manifest_path))
        repeat = 1 if manifest.target.icount_shift is not None else 5  # QEMU -icount is exact
        run = ImageRun(self, manifest, workdir / self.name, repeat)
        run.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.images += 1
            return [run.measure(a) for a in arts]
        finally:
            run.stop()


def local_device(manifest: Manifest, workdir: Path) -> Device:
    return Device(manifest, workdir=workdir)


class ImageRun:
    """One image on one device: arguments up, reference down, then the candidates."""

    def __init__(self, slot: DeviceSlot, manifest: Manifest, workdir: Path, repeat: int) -> None:
        self.slot, self.manifest, self.workdir, self.repeat = slot, manifest, workdir, repeat
        self.device: Device | None = None
        self.lib: Any = None  # the image's system library on the running device
        self.tensors: dict[str, list[Any]] = {}  # by arguments file
        self.expected: dict[str, np.ndarray] = {}
        self.ref_seconds: dict[str, float] = {}

    def start(self) -> None:
        self.stop()
        self.device = self.slot.make(self.manifest, self.workdir)
        self.lib = self.device.start().system_lib()
        self.tensors.clear()

    def stop(self) -> None:
        if self.device is not None:
            self.device.stop()
            self.device = None

    def _upload(self, path: str) -> list[Any]:
        if path not in self.tensors:
            assert self.device is not None and self.device.client is not None
            with np.load(path) as data:
                arrays = [data[f"arr_{i}"] for i in range(len(data.files))]
            self.tensors[path] = [self.device.client.tensor(a) for a in arrays]
        return self.tensors[path]

    def _args(self, art: Artifact) -> list[Any]:
        """The candidate's arguments on the device, its task's reference run first (once)."""
        if art.task not in self.expected:
            ref_args = self._upload(art.ref_args or art.args)
            self.expected[art.task] = self._call(art.ref, ref_args)
            self.ref_seconds[art.task] = self._time(art.ref, ref_args)
        return self._upload(art.args)

    def _call(self, kernel: str, tensors: list[Any]) -> np.ndarray:
        self.lib.get_function(kernel)(*tensors)
        return tensors[-1].numpy()

    def _time(self, kernel: str, tensors: list[Any]) -> float:
        with self.lib.time_evaluator(kernel, number=1, repeat=self.repeat) as te:
            return min(te(*tensors))

    def measure(self, art: Artifact) -> Measured:
        try:
            if self.device is None:
                self.start()
            tensors = self._args(art)
        except FAULTS as exc:
            self.stop()
            return Measured(error=f"reference kernel failed on the device: {_line(exc)}")
        expected = self.expected[art.task]
        try:
            tensors[-1].copyfrom(np.bitwise_not(expected.view(np.uint8)).view(expected.dtype))
            got = self._call(art.kernel, tensors)
            if not np.array_equal(got, expected):
                bad = int(np.count_nonzero(got != expected))
                return Measured(error=f"wrong output: {bad} of {got.size} values differ from the default "
                                f"schedule's", rejected=True, ref_seconds=self.ref_seconds[art.task])
            return Measured(self._time(art.kernel, tensors), ref_seconds=self.ref_seconds[art.task])
        except FAULTS as exc:
            self.slot.restarts += 1
            self.stop()  # the next candidate starts the device again
            return Measured(error=f"device fault: {_line(exc)}", ref_seconds=self.ref_seconds.get(art.task))


def _line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {last_line(exc)}"[:300]


class DevicePool:
    """K devices; images are handed to whichever is free."""

    def __init__(self, slots: list[DeviceSlot], workdir: Path) -> None:
        if not slots:
            raise UtvmError("no devices to measure on")
        self.slots, self.workdir = slots, Path(workdir)
        self._free: list[DeviceSlot] = list(slots)
        self._cv = threading.Condition()

    def _take(self) -> DeviceSlot:
        with self._cv:
            while not self._free:
                self._cv.wait()
            return self._free.pop(0)

    def _give(self, slot: DeviceSlot) -> None:
        with self._cv:
            self._free.append(slot)
            self._cv.notify()

    def run_image(self, manifest_path: str, arts: list[Artifact]) -> list[Measured]:
        slot = self._take()
        try:
            return slot.run(manifest_path, arts, self.workdir)
        finally:
            self._give(slot)
