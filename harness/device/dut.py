"""The device under test: one running image shared by many tests.

A test that breaks the session (a wrong reply, a reset, a lost byte) marks it
broken; the next test gets a fresh session, or a restarted device when a new
session cannot be had. A device that cannot be started several times in a row
is abandoned: later tests error at once with the cause instead of each waiting
for its own timeout.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from harness.build import Manifest
from harness.device import Device
from harness.errors import InfrastructureError, TransportError
from harness.link.session import Session
from harness.link.transport import Transport
from harness.rpc import RPCClient
from harness.targets import StartOptions, Target

ABANDON_AFTER = 3  # consecutive failed starts


@dataclass(frozen=True)
class Hooks:
    """Commands that act on a physical (or virtual) board; {elf} and {port} are filled in."""

    flash: str | None = None
    reset: str | None = None
    timeout: float = 300.0  # a hung flash tool is an infrastructure error, not a hang

    def run(self, which: str, manifest: Manifest, port: str | None) -> None:
        template = getattr(self, which)
        if template is None:
            raise InfrastructureError(f"no {which} command given for this board")
        fields = {"elf": shlex.quote(manifest.artifact), "port": shlex.quote(port or "")}
        if "{elf_bin}" in template:  # mass-storage flashing wants a raw binary
            fields["elf_bin"] = shlex.quote(_raw_binary(manifest))
        cmd = template.format(**fields)
        try:
            proc = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=self.timeout,
                                  check=False, start_new_session=True)
        except subprocess.TimeoutExpired:
            raise InfrastructureError(f"{which} command did not end in {self.timeout:.0f} s: {cmd}") from None
        if proc.returncode != 0:
            out = (proc.stderr or proc.stdout).strip()[-1000:]
            raise InfrastructureError(f"{which} command failed ({proc.returncode}): {cmd}\n{out}")


def _raw_binary(manifest: Manifest) -> str:
    out = str(Path(manifest.artifact).with_suffix(".bin"))
    proc = subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", manifest.artifact, out],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise InfrastructureError(f"cannot make a raw binary of {manifest.artifact}: {proc.stderr.strip()}")
    return out


def image_sha256(manifest: Manifest) -> str:
    return hashlib.sha256(Path(manifest.artifact).read_bytes()).hexdigest()


class DeviceUnderTest:
    """Every state change is an explicit call: `begin_test`/`end_test` around a test, `recover`,
    `reconnect`, `restart`, `mark_broken`; `raw_link`/`raw_session` hand out the lower layers and
    note that the session must be renewed after the test. Reading `rpc` changes nothing."""

    def __init__(self, manifest: Manifest, options: StartOptions, timeout: float, workdir: Path,
                 hooks: Hooks | None = None) -> None:
        self.manifest = manifest
        self.options = options
        self.timeout = timeout  # the session's, before the target's timeout_multiplier (Device applies it)
        self.workdir = workdir
        self.hooks = hooks or Hooks()
        self.target: Target = manifest.target
        self.failed_starts = 0
        self.last_error: BaseException | None = None
        self._broken = False  # recover() opens a new session first
        self._raw_access = False  # a test spoke the link or session layer itself
        self._device: Device | None = None

    @cached_property
    def sha256(self) -> str:
        return image_sha256(self.manifest)

    @property
    def functions(self) -> Sequence[str]:
        return self.manifest.functions

    # ---- what tests use ----
    @property
    def rpc(self) -> RPCClient:
        """The client of the current session (recover() first if the session may be gone)."""
        if self._device is None or self._device.client is None or self._broken:
            raise InfrastructureError(f"{self.target.name}: no open session (call recover())")
        return self._device.client

    def raw_session(self) -> Session:
        """The session layer, for tests that speak it; the session is renewed after the test."""
        self._raw_access = True
        session = self.recover_device().session
        assert session is not None
        return session

    def raw_link(self) -> Transport:
        """The raw byte pipe, for tests that speak the link layer; the session is renewed after the test."""
        self._raw_access = True
        transport = self.recover_device().transport
        assert transport is not None
        return transport

    def reconnect(self) -> RPCClient:
        """A new session on the running device (StartInit resets its RPC state and memory)."""
        return self.recover_device().reconnect()

    def mark_broken(self) -> None:
        """The session cannot be trusted any more (e.g. the test crashed the device on purpose)."""
        self._broken = True

    @property
    def idle(self) -> bool:
        """The current session is open and clean (never starts or recovers anything)."""
        session = self._device.session if self._device is not None else None
        return session is not None and session.idle

    # ---- around a test ----
    def begin_test(self) -> None:
        """A clean session for the test (started or recovered); an infrastructure fault here is a
        setup error."""
        self.recover_device()
        self._raw_access = False

    def end_test(self, passed: bool) -> None:
        """After a test: a failed test, or one that spoke the raw layers, leaves the session to be renewed
        (it may have left the link mid-packet)."""
        if not passed or self._raw_access or not self.idle:
            self._broken = True

    # ---- lifecycle ----
    def recover(self) -> RPCClient:
        """The client of an open, clean session: the device started, or recovered when broken."""
        client = self.recover_device().client
        assert client is not None
        return client

    def recover_device(self) -> Device:
        if self._device is not None and not self._broken:
            return self._device
        return self._attempt(self._recover if self._device is not None else self._start)

    def restart(self) -> Device:
        """Stop and start again; a board on a serial port is reset when a reset command is known."""
        self.stop()
        return self._attempt(lambda: self._start(reset=True))

    def _attempt(self, how: Callable[[], Device]) -> Device:
        if self.failed_starts >= ABANDON_AFTER:
            raise InfrastructureError(
                f"{self.target.name}: device abandoned after {self.failed_starts} failed starts; "
                f"last error: {self.last_error}")
        try:
            device = how()
        except InfrastructureError as exc:
            self.failed_starts += 1
            self.last_error = exc
            raise
        self.failed_starts, self._broken, self._raw_access = 0, False, False
        return device

    def _start(self, reset: bool = False) -> Device:
        device = Device(self.manifest, timeout=self.timeout, workdir=self.workdir, options=self.options)
        port = self.options.serial_port
        board_reset = None
        if reset and port and self.hooks.reset:  # port open first, so the boot announcement is seen
            board_reset = lambda: self.hooks.run("reset", self.manifest, port)  # noqa: E731
        device.start(after_open=board_reset)
        self._device = device
        return device

    def _recover(self) -> Device:
        """A new session; if the link or the process is gone, a restart (a reset for a board)."""
        assert self._device is not None
        try:
            self._device.reconnect()
            return self._device
        except TransportError:
            self.stop()
        return self._start(reset=True)

    def stop(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            device.stop()
