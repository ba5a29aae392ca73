"""Real boards: one description per board in boards/<name>.toml, its port in crt/platform/<port>/.

They sit in the same target registry as the host and QEMU builds; what differs is
the launcher: a real board is reached over its UART (--serial-port, or a lab
inventory), never started by the harness. `utvm port new NAME` writes both files.

    description = "Acme M4 dev kit"
    cpu = "cortex-m4"
    cflags = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
    cpu_hz = 80_000_000
    flash = [0x0800_0000, 0x0010_0000]
    ram = [0x2000_0000, 0x0002_0000]
    features = ["fpu"]
    workspace = 16384      # bytes of RAM for kernel workspaces
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from harness.errors import UtvmError
from harness.qemu import (  # what every bare-metal Cortex-M target shares
    ARM_CC,
    CORTEX_M_MAIN,
    FIRMWARE_CFLAGS,
    FIRMWARE_LDFLAGS,
    QEMU_DIR,
    memory_ld,
)
from harness.target import REPO_ROOT, LaunchOptions, Target, register, register_launcher
from harness.transport import Transport

if TYPE_CHECKING:
    from harness.build import Manifest

BOARDS_DIR = REPO_ROOT / "boards"


def board_target(name: str, raw: Mapping[str, Any], path: Path) -> Target:
    try:
        flash = (int(raw["flash"][0]), int(raw["flash"][1]))
        ram = (int(raw["ram"][0]), int(raw["ram"][1]))
        defines = {"UTVM_BOARD_CPU_HZ": f"{int(raw['cpu_hz'])}u",
                   "UTVM_WORKSPACE_SIZE": f"{int(raw.get('workspace', 16384))}u"}
        return Target(
            name=name, description=f"{raw['description']} (real board, over its UART)",
            port=str(raw.get("port", name)), launcher="board", cc=ARM_CC,
            cflags=(*FIRMWARE_CFLAGS, *map(str, raw["cflags"])),
            ldflags=FIRMWARE_LDFLAGS,
            defines=MappingProxyType(defines),
            features=frozenset({"board", "uart", *map(str, raw.get("features", ()))}),
            timeout_multiplier=float(raw.get("timeout_multiplier", 1.0)),
            extra_sources=(QEMU_DIR / "startup.c",),
            main=CORTEX_M_MAIN,
            link_files=MappingProxyType({"memory.ld": memory_ld(flash, ram, f"{name}: from {path.name}")}),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise UtvmError(f"{path}: board {name!r} is malformed: missing or bad {exc}") from exc


def load(directory: Path = BOARDS_DIR) -> list[Target]:
    targets = []
    for path in sorted(directory.glob("*.toml")):
        try:
            raw = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UtvmError(f"cannot read board description {path}: {exc}") from exc
        targets.append(board_target(path.stem, raw, path))
    return targets


def _launch_board(manifest: Manifest, workdir: Path, options: LaunchOptions) -> Transport:
    raise UtvmError(f"target {manifest.target} is a real board: reach it with --serial-port PORT "
                    "(and --flash-cmd), or through a lab inventory")


register_launcher("board", _launch_board)
for _t in load():
    register(_t)
