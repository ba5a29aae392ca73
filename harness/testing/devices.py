"""The devices a worker's tests run on: one per target and image, and what a test measured.

A test usually runs on the suite's image (the `dut` fixture). A test that needs another image of
the same target (a model's, say) asks `image_dut(manifest)` for it: on the host or QEMU that is a
device of its own; a board on a serial port carries one image at a time, so the pool stops the
devices on the port and flashes the image with the board's flash hook, and flashes the suite's
image back when a later test needs it (the plugin orders such tests last, so that happens rarely).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from filelock import FileLock

from harness.build import Manifest
from harness.device.device import DEFAULT_TIMEOUT
from harness.device.dut import DeviceUnderTest, Hooks
from harness.errors import InfrastructureError, UtvmError
from harness.testing import report as R
from harness.testing.suite import RunConfig, TargetSpec


class DevicePool:
    """This worker's devices, one per target and image; only the newest few stay running."""

    def __init__(self, run: RunConfig, workroot: Path, live: int = 2) -> None:
        self.run, self.workroot, self.live = run, workroot, live
        self.devices: dict[tuple[str, str], DeviceUnderTest] = {}
        self._order: list[tuple[str, str]] = []
        # the image the serial board carries (its artifact), None while unknown
        self.carried: str | None = run.firmware.artifact if run.firmware is not None else None

    def get(self, spec: TargetSpec, manifest: Manifest, label: str = "") -> DeviceUnderTest:
        """The device running `manifest` on the target (not started yet: begin_test starts it); `label`
        names its work directory beside the suite device's."""
        key = (spec.name, manifest.artifact)
        if self.run.serial_port:
            self._carry(manifest)
        dut = self.devices.get(key)
        if dut is None:
            workdir = self.workroot / spec.name / label if label else self.workroot / spec.name
            workdir.mkdir(parents=True, exist_ok=True)
            options = self.run.start_options(spec)
            dut = DeviceUnderTest(manifest, options, DEFAULT_TIMEOUT * spec.timeout_multiplier, workdir,
                                  Hooks(flash=self.run.flash_cmd, reset=self.run.reset_cmd))
            self.devices[key] = dut
        if key in self._order:
            self._order.remove(key)
        self._order.append(key)
        for stale in self._order[: -self.live]:
            self.devices[stale].stop()  # restarted on demand
        return dut

    def _carry(self, manifest: Manifest) -> None:
        """Put the image on the serial board unless it carries it already."""
        if self.carried == manifest.artifact:
            return
        port = self.run.serial_port
        if not self.run.flash_cmd:
            raise InfrastructureError(f"the board on {port} carries {self.carried}; flashing "
                                      f"{manifest.artifact} needs --flash-cmd")
        for dut in self.devices.values():  # the port is the board's one link
            dut.stop()
        self.carried = None  # unknown until the flash succeeds
        with FileLock(str(self.run.cache / "flash.lock")):
            Hooks(flash=self.run.flash_cmd).run("flash", manifest, port)
        self.carried = manifest.artifact

    def close(self) -> None:
        for dut in self.devices.values():
            dut.stop()


class ImageDevices:
    """`image_dut(manifest)`: a device under test running another image of the test's target, with a
    clean session, as `dut` has for the suite's image. After the test each is treated as `dut` is."""

    def __init__(self, pool: DevicePool, spec: TargetSpec) -> None:
        self.pool, self.spec = pool, spec
        self.used: list[DeviceUnderTest] = []

    def __call__(self, manifest: Manifest) -> DeviceUnderTest:
        if manifest.target.name != self.spec.target.name:
            raise UtvmError(f"image {manifest.artifact} is for {manifest.target.name}, the test runs on "
                            f"{self.spec.target.name}")
        device = self.pool.get(self.spec, manifest, label=Path(manifest.artifact).parent.name)
        device.begin_test()  # an infrastructure fault here is the machinery's
        if device not in self.used:
            self.used.append(device)
        return device

    def mark_broken(self) -> None:
        for device in self.used:
            device.mark_broken()

    def end_test(self, passed: bool) -> None:
        for device in self.used:
            device.end_test(passed)


class Figures:
    """What a test measured (`utvm_figures.record({"instructions": n, ...})`): kept with the test's
    result in JUnit (testcase properties), summary.json and the nightly history."""

    def __init__(self, node: pytest.Item) -> None:
        self.node = node

    def record(self, figures: Mapping[str, R.Figure]) -> None:
        for name, value in figures.items():
            set_property(self.node, R.P_FIGURE + name, value)


def set_property(item: pytest.Item, key: str, value: object) -> None:
    item.user_properties[:] = [(k, v) for k, v in item.user_properties if k != key]
    item.user_properties.append((key, value))
