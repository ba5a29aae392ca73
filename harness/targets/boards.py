"""Real boards: one description per board, <dir>/<name>.toml, its port in crt/platform/<port>/.

The directories are the package's boards/ and those listed in $UTVM_BOARD_PATH (colon-separated),
so a vendor keeps a board and its port in their own tree: ``utvm port new NAME --root DIR`` writes
DIR/boards/NAME.toml and DIR/crt/platform/NAME/, and UTVM_BOARD_PATH=DIR/boards finds them.

They sit in the same target registry as the host and QEMU builds; what differs is
the starter: a real board is reached over its UART (--serial-port, or a lab
inventory), never started by the harness. `utvm port new NAME` writes both files.

    description = "Acme M4 dev kit"
    cpu = "cortex-m4"
    cflags = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
    cpu_hz = 80_000_000
    flash = [0x0800_0000, 0x0010_0000]
    ram = [0x2000_0000, 0x0002_0000]
    features = ["fpu"]
    workspace = 16384      # bytes of RAM for kernel workspaces

    [configs.fast-clock]   # named build configurations (harness.targets.config says what they hold)
    description = "PLL at 160 MHz, caches on"
    defines = { UTVM_BOARD_PLL_MHZ = "160", UTVM_BOARD_CACHES = "1" }  # applied by the board's start-up code
    cpu_hz = 160_000_000

Start-up settings (clock, caches, flash wait states) are defines that the board's own start-up code
(in its port) reads; a configuration that changes the clock says the new one in ``cpu_hz``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from harness import resources
from harness.errors import UtvmError
from harness.link.transport import Transport
from harness.targets import cortex_m
from harness.targets.base import StartOptions, Target
from harness.targets.config import parse_configs

BOARD_PATH_ENV = "UTVM_BOARD_PATH"


def board_dirs() -> list[Path]:
    extra = [Path(d) for d in os.environ.get(BOARD_PATH_ENV, "").split(os.pathsep) if d]
    return [resources.boards_dir(), *extra]


def _port_dir(port: str, path: Path) -> Path:
    """The port beside the description's tree (a vendor's), else the package's."""
    beside = path.parent.parent / "crt" / "platform" / port
    return beside if beside.is_dir() else resources.crt() / "platform" / port


@dataclass(frozen=True)
class SerialBoardStarter:
    """A real board is never started by the harness: it is reached over its UART
    (StartOptions.serial_port, which Target.start handles for every kind)."""

    def start(self, target: Target, artifact: Path, workdir: Path, options: StartOptions) -> Transport:
        raise UtvmError(f"target {target.name} is a real board: reach it with --serial-port PORT "
                        "(and --flash-cmd), or through a lab inventory")


def board_target(name: str, raw: Mapping[str, Any], path: Path) -> Target:
    try:
        flash = (int(raw["flash"][0]), int(raw["flash"][1]))
        ram = (int(raw["ram"][0]), int(raw["ram"][1]))
        defines = {"UTVM_BOARD_CPU_HZ": f"{int(raw['cpu_hz'])}u",
                   "UTVM_WORKSPACE_SIZE": f"{int(raw.get('workspace', 16384))}u"}
        return Target(
            name=name, description=f"{raw['description']} (real board, over its UART)",
            port_dir=_port_dir(str(raw.get("port", name)), path), starter=SerialBoardStarter(),
            cc=cortex_m.ARM_CC,
            cflags=(*cortex_m.FIRMWARE_CFLAGS, *map(str, raw["cflags"])),
            ldflags=cortex_m.FIRMWARE_LDFLAGS, kernel_cflags=cortex_m.KERNEL_CFLAGS,
            defines=MappingProxyType(defines),
            features=frozenset({"board", "uart", *map(str, raw.get("features", ()))}),
            timeout_multiplier=float(raw.get("timeout_multiplier", 1.0)),
            extra_sources=(cortex_m.STARTUP,),
            main=cortex_m.MAIN,
            cpu_hz=int(raw["cpu_hz"]), flash_bytes=flash[1], ram_bytes=ram[1],
            link_files=MappingProxyType(cortex_m.link_files(flash, ram, f"{name}: from {path.name}")),
            configs=parse_configs(raw.get("configs"), f"{path}: board {name!r}"),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise UtvmError(f"{path}: board {name!r} is malformed: missing or bad {exc}") from exc


def load(directory: Path) -> list[Target]:
    targets = []
    for path in sorted(directory.glob("*.toml")):
        try:
            raw = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UtvmError(f"cannot read board description {path}: {exc}") from exc
        targets.append(board_target(path.stem, raw, path))
    return targets


def targets() -> list[Target]:
    return [t for d in board_dirs() for t in load(d)]
