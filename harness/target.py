"""Targets: one registry of descriptions that the build and the launcher read.

Adding a target is adding a Target(...) to the registry; a new *kind* of
target adds one launcher to LAUNCHERS. No if/elif over board kinds elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from harness.errors import UtvmError
from harness.serial_link import DEFAULT_BAUD, SerialTransport
from harness.transport import ChildProcessTransport, Transport

if TYPE_CHECKING:
    from harness.build import Manifest

REPO_ROOT = Path(__file__).resolve().parent.parent
CRT = REPO_ROOT / "crt"

_HOST_DEFINES = MappingProxyType({
    "UTVM_MAX_PACKET_SIZE": "131072",
    "UTVM_RX_CHUNK": "65536",
    "UTVM_TX_CHUNK": "4096",
    "UTVM_ARG_ARENA_SIZE": "4096",
    "UTVM_MAX_CLOSURES": "8",
    "UTVM_MAX_TIMER_REPEATS": "64",
})
_SANITIZE = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g")


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    port: str  # crt/platform/<port>
    launcher: str  # key of LAUNCHERS
    cc: str = "gcc"
    cflags: tuple[str, ...] = ("-std=c11", "-O2")
    ldflags: tuple[str, ...] = ()
    defines: Mapping[str, str] = field(default_factory=dict)
    features: frozenset[str] = frozenset()
    timeout_multiplier: float = 1.0
    port_sources: tuple[str, ...] | None = None  # files of the port to build; None: all *.c
    main: Path | None = None  # the firmware's entry, when it is not one of the port's files
    extra_sources: tuple[Path, ...] = ()  # startup code and the like, built with the runtime
    link_files: Mapping[str, str] = field(default_factory=dict)  # written beside the image first
    launch: Mapping[str, Any] = field(default_factory=dict)  # what the launcher needs to know

    @property
    def port_dir(self) -> Path:
        return CRT / "platform" / self.port

    def port_files(self) -> list[Path]:
        if self.port_sources is None:
            return sorted(self.port_dir.glob("*.c"))
        return [self.port_dir / f for f in self.port_sources]


TARGETS: dict[str, Target] = {}


def register(target: Target) -> Target:
    if target.name in TARGETS:
        raise ValueError(f"target {target.name} registered twice")
    TARGETS[target.name] = target
    return target


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        known = ", ".join(sorted(TARGETS))
        raise UtvmError(f"unknown target {name!r}; known targets: {known}") from None


@dataclass(frozen=True)
class LaunchOptions:
    """How to start a device, beyond what its target says."""

    container_image: str | None = None  # run the device's process inside this Docker image
    serial_port: str | None = None  # the device is a board already running the image, on this port
    baud: int = DEFAULT_BAUD


Launcher = Callable[["Manifest", Path, LaunchOptions], Transport]
LAUNCHERS: dict[str, Launcher] = {}


def register_launcher(kind: str, launcher: Launcher) -> None:
    LAUNCHERS[kind] = launcher


def launch(manifest: Manifest, workdir: Path, options: LaunchOptions | None = None) -> Transport:
    target = get_target(manifest.target)
    options = options or LaunchOptions()
    if options.serial_port:  # a board: whatever its kind, its link is a UART
        return SerialTransport(options.serial_port, options.baud)
    return LAUNCHERS[target.launcher](manifest, workdir, options)


def _launch_host(manifest: Manifest, workdir: Path, options: LaunchOptions) -> Transport:
    if options.container_image:
        raise UtvmError(f"target {manifest.target} runs as a local process, not in a container")
    return ChildProcessTransport([str(manifest.artifact)], stderr_path=workdir / "device.stderr")


register_launcher("host", _launch_host)


register(Target(
    name="host",
    description="the runtime as an x86 child process (framed session on stdin/stdout)",
    port="host",
    launcher="host",
    defines=_HOST_DEFINES,
    features=frozenset({"host", "process"}),
))

register(Target(
    name="host-asan",
    description="host target built with AddressSanitizer and UndefinedBehaviorSanitizer",
    port="host",
    launcher="host",
    cflags=("-std=c11", "-O1", *_SANITIZE),
    ldflags=_SANITIZE,
    defines=_HOST_DEFINES,
    features=frozenset({"host", "process", "sanitizers"}),
    timeout_multiplier=3.0,
))

import harness.boards  # noqa: E402  (registers the real boards of boards/*.toml)
import harness.qemu  # noqa: E402,F401  (registers the QEMU boards and their launcher)
