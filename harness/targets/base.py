"""What a target is: the compiler and flags its images are built with, its port, its features,
and how an image of it is started. A target carries its capabilities; callers never ask what kind it is.

Starting an image has one name throughout: `Target.start()` starts it, with the run's `StartOptions`
(a container, a serial port), through the target's `starter`, the typed description of how a target of
its kind starts (host.ProcessStarter, qemu.QemuStarter, boards.SerialBoardStarter).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from harness.link.serial import DEFAULT_BAUD, SerialTransport
from harness.link.transport import Transport
from harness.targets.config import DEFAULT_CONFIG, BuildConfig


@dataclass(frozen=True)
class StartOptions:
    """How this run reaches a device, beyond what its target says."""

    container_image: str | None = None  # run the device's process inside this Docker image
    serial_port: str | None = None  # the device is a board already running the image, on this port
    baud: int = DEFAULT_BAUD


class Starter(Protocol):
    """How an image of a target of one kind is started: returns the byte pipe to it, not yet opened;
    device logs go in workdir."""

    def start(self, target: Target, artifact: Path, workdir: Path, options: StartOptions) -> Transport: ...


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    port_dir: Path  # the port's platform functions (crt/platform/<port>)
    starter: Starter
    cc: str = "gcc"
    cflags: tuple[str, ...] = ("-std=c11", "-O2")
    ldflags: tuple[str, ...] = ()
    kernel_cflags: tuple[str, ...] = ()  # added for model kernels (after cflags, so they win)
    defines: Mapping[str, str] = field(default_factory=dict)
    features: frozenset[str] = frozenset()
    timeout_multiplier: float = 1.0  # scales a device's session timeout (Device applies it, once)
    port_sources: tuple[str, ...] | None = None  # files of the port to build; None: all *.c
    main: Path | None = None  # the firmware's entry, when it is not one of the port's files
    extra_sources: tuple[Path, ...] = ()  # startup code and the like, built with the runtime
    link_files: Mapping[str, str] = field(default_factory=dict)  # written beside the image first
    # Capabilities.
    self_hosted: bool = False  # the image is an executable speaking raw RPC on two fds (PopenSession)
    emulator: tuple[str, ...] = ()  # the emulator the image runs under here (its command); () if none
    containerized: bool = False  # can run inside the Docker image (the emulator is in it)
    # argv that runs an image as a local process with its UART on stdio; None if it cannot run here.
    process: Callable[[str], list[str]] | None = None
    cpu_hz: int | None = None  # the core's clock: device seconds x cpu_hz = cycles
    icount_shift: int | None = None  # emulated with -icount shift=N: one instruction is 2^N ns
    flash_bytes: int | None = None  # memory a bare-metal image has (None: a host process)
    ram_bytes: int | None = None
    params_bytes: int | None = None  # memory a model's parameters have apart from the flash (None: flash)
    params_in_ram: bool = False  # parameters run from RAM, copied there at start from their image in flash
    # The build configuration it is (harness.targets.config; its name carries it), and the named ones
    # its board declares.
    config: BuildConfig = DEFAULT_CONFIG
    configs: Mapping[str, BuildConfig] = field(default_factory=dict)

    @property
    def emulated(self) -> bool:
        return bool(self.emulator)

    def start(self, artifact: Path, workdir: Path, options: StartOptions | None = None) -> Transport:
        """Start an image (its ELF) of this target; the byte pipe to it, not yet opened. A board on a
        serial port, whatever its kind, is reached over that port (it already runs the image)."""
        options = options or StartOptions()
        if options.serial_port:
            return SerialTransport(options.serial_port, options.baud)
        return self.starter.start(self, Path(artifact), workdir, options)

    def instructions(self, seconds: float) -> int | None:
        """Instructions retired in `seconds` of device time, where time counts instructions (-icount)."""
        return None if self.icount_shift is None else round(seconds * 1e9 / (1 << self.icount_shift))

    def cycles(self, seconds: float) -> int | None:
        """Core clock cycles in `seconds` of device time, for a target with a known clock."""
        return None if self.cpu_hz is None else round(seconds * self.cpu_hz)

    def port_files(self) -> list[Path]:
        if self.port_sources is None:
            return sorted(self.port_dir.glob("*.c"))
        return [self.port_dir / f for f in self.port_sources]
