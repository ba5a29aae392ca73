"""QEMU Cortex-M boards: read boards/qemu/boards.toml, describe a target per board and transport,
and start QEMU for them (locally, or in a container through ``docker``)."""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from types import MappingProxyType
from typing import Any

from harness import resources
from harness.errors import InfrastructureError, UtvmError
from harness.link.transport import ChildProcessTransport, Transport
from harness.targets import cortex_m
from harness.targets.base import StartOptions, Target
from harness.targets.config import BuildConfig, parse_configs
from harness.targets.docker import ContainerTransport

QEMU = "qemu-system-arm"
# Per transport: the port file that implements it and the QEMU options that wire it to stdio.
TRANSPORTS: Mapping[str, tuple[str, tuple[str, ...]]] = MappingProxyType({
    "uart": ("transport_uart.c",
             ("-chardev", "stdio,id=link,signal=off", "-serial", "chardev:link")),
    "semihosting": ("transport_semihosting.c",
                    ("-semihosting-config", "enable=on,target=native", "-serial", "null")),
})
# Per clock kind: the port file that reads it (crt/platform/mps2/timer_*.c).
TIMERS: Mapping[str, str] = MappingProxyType({
    "fpgaio": "timer_fpgaio.c",
    "sse-counter": "timer_sse_counter.c",
})
# Per transport: build settings. Every semihosting call stops the core and goes through
# QEMU's main loop, so that link reads and writes in large pieces (QEMU's console FIFO
# holds 1 KiB); a UART's reads come from a RAM ring and need no more than the default.
TRANSPORT_DEFINES: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "uart": {},
    "semihosting": {"UTVM_RX_CHUNK": "512", "UTVM_TX_CHUNK": "256", "UTVM_MAX_PACKET_SIZE": "16384"},
})


@dataclass(frozen=True)
class Timer:
    """The board's clock: which kind (TIMERS), its registers and its rate."""

    kind: str
    base: int
    hz: int
    control: int | None = None  # a separate control frame, where the kind has one

    def defines(self) -> dict[str, str]:
        found = {"UTVM_BOARD_TIMER_BASE": f"{self.base:#x}u", "UTVM_BOARD_TIMER_HZ": f"{self.hz}u"}
        if self.control is not None:
            found["UTVM_BOARD_TIMER_CONTROL"] = f"{self.control:#x}u"
        return found


def _timer(raw: Mapping[str, Any]) -> Timer:
    control = raw.get("control")
    return Timer(kind=str(raw["kind"]), base=int(raw["base"]), hz=int(raw["hz"]),
                 control=None if control is None else int(control))


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    machine: str
    cpu: str
    cflags: tuple[str, ...]
    cpu_hz: int
    flash: tuple[int, int]
    ram: tuple[int, int]
    params: tuple[int, int] | None  # memory for a model's parameters, when not the flash
    uart_base: int
    uart_irqs: tuple[int, ...]
    port: str
    icount_shift: int
    transports: tuple[str, ...]
    timer: Timer
    features: frozenset[str]
    configs: Mapping[str, BuildConfig]  # its named build configurations ([defaults] and its own)

    def memory_ld(self) -> str:
        return cortex_m.memory_ld(self.flash, self.ram, f"{self.name}: from boards/qemu/boards.toml",
                                  self.params)

    def link_files(self) -> dict[str, str]:
        return cortex_m.link_files(self.flash, self.ram, f"{self.name}: from boards/qemu/boards.toml",
                                   self.params)

    def defines(self) -> dict[str, str]:
        return {
            "UTVM_BOARD_CPU_HZ": f"{self.cpu_hz}u",
            "UTVM_BOARD_UART_BASE": f"{self.uart_base:#x}u",
            "UTVM_BOARD_UART_IRQS": "{" + ",".join(map(str, self.uart_irqs)) + "}",
            **self.timer.defines(),
        }


def _board(name: str, raw: Mapping[str, Any], defaults: Mapping[str, Any]) -> Board:
    merged = {**defaults, **raw}
    try:
        return Board(
            name=name, description=merged["description"], machine=merged["machine"], cpu=merged["cpu"],
            cflags=tuple(merged["cflags"]), cpu_hz=int(merged["cpu_hz"]),
            flash=(int(merged["flash"][0]), int(merged["flash"][1])),
            ram=(int(merged["ram"][0]), int(merged["ram"][1])),
            params=(int(merged["params"][0]), int(merged["params"][1])) if "params" in merged else None,
            uart_base=int(merged["uart"]["base"]), uart_irqs=tuple(int(i) for i in merged["uart"]["irqs"]),
            port=merged["port"], icount_shift=int(merged["icount_shift"]),
            transports=tuple(merged["transports"]), timer=_timer(merged["timer"]),
            features=frozenset(merged.get("features", ())),
            configs=parse_configs({**defaults.get("configs", {}), **raw.get("configs", {})},
                                  f"{boards_file()}: board {name}"),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise UtvmError(f"{boards_file()}: board {name!r} is malformed: {exc!r}") from exc


def load_boards(path: Path | None = None) -> dict[str, Board]:
    path = path or boards_file()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UtvmError(f"cannot read board registry {path}: {exc}") from exc
    defaults = data.get("defaults", {})
    boards = {name: _board(name, raw, defaults) for name, raw in data.get("boards", {}).items()}
    for b in boards.values():
        unknown = set(b.transports) - set(TRANSPORTS)
        if unknown:
            raise UtvmError(f"{path}: board {b.name} names unknown transports {sorted(unknown)}")
        if b.timer.kind not in TIMERS:
            raise UtvmError(f"{path}: board {b.name} names unknown timer {b.timer.kind!r} "
                            f"(known: {', '.join(TIMERS)})")
    return boards


def target_name(board: Board, transport: str) -> str:
    """The UART is the board's own link; other transports get a suffix."""
    return board.name if transport == "uart" else f"{board.name}-{transport}"


def _target(board: Board, transport: str) -> Target:
    port_file, _ = TRANSPORTS[transport]
    return Target(
        name=target_name(board, transport),
        description=f"{board.description}; QEMU {board.machine}, link over {transport}",
        port_dir=resources.crt() / "platform" / board.port,
        starter=QemuStarter(board, transport),
        cc=cortex_m.ARM_CC,
        cflags=(*cortex_m.FIRMWARE_CFLAGS, *board.cflags),
        ldflags=cortex_m.FIRMWARE_LDFLAGS,
        kernel_cflags=cortex_m.KERNEL_CFLAGS,
        defines=MappingProxyType({**board.defines(), **TRANSPORT_DEFINES[transport]}),
        features=frozenset({"qemu", "board", "exact_time", transport, *board.features,
                            f"timer-{board.timer.kind}"}),
        # Emulated time is virtual (-icount); these cover a loaded host, not a slow device.
        timeout_multiplier=3.0,
        port_sources=("platform.c", port_file, TIMERS[board.timer.kind]),
        main=cortex_m.MAIN,
        extra_sources=(cortex_m.STARTUP,),
        link_files=MappingProxyType(board.link_files()),
        emulator=(QEMU,),
        cpu_hz=board.cpu_hz,
        icount_shift=board.icount_shift,
        flash_bytes=board.flash[1],
        ram_bytes=board.ram[1],
        params_bytes=board.params[1] if board.params else None,
        containerized=True,
        configs=board.configs,
        process=partial(qemu_argv, board, transport),
    )


def qemu_argv(board: Board, transport: str, elf: str, qemu: str = QEMU) -> list[str]:
    _, wiring = TRANSPORTS[transport]
    return [qemu, "-M", board.machine, "-display", "none", "-monitor", "none", "-nodefaults",
            "-net", "none", "-icount", f"shift={board.icount_shift}", *wiring, "-kernel", elf]


def qemu_process(board: Board, transport: str, elf: str, stderr_path: Path | None = None) -> Transport:
    """QEMU as a local child process; it does not exit when its stdin closes, so it is
    stopped at once on close, and it dies with its parent."""
    return ChildProcessTransport(qemu_argv(board, transport, elf), stderr_path=stderr_path,
                                 exit_grace=0.0, die_with_parent=True)


@dataclass(frozen=True)
class QemuStarter:
    """A board emulated by QEMU with its link over one transport: a local QEMU process, or one in a
    container of StartOptions.container_image."""

    board: Board
    transport: str  # a key of TRANSPORTS

    def start(self, target: Target, artifact: Path, workdir: Path, options: StartOptions) -> Transport:
        if options.container_image:
            argv = qemu_argv(self.board, self.transport, f"/fw/{artifact.name}")
            return ContainerTransport(options.container_image, self.board.name, argv, artifact,
                                      stderr_path=workdir / "device.stderr")
        if shutil.which(QEMU) is None:
            raise InfrastructureError(f"{QEMU} is not installed (run ci/install-system.sh)")
        return qemu_process(self.board, self.transport, str(artifact), workdir / "device.stderr")


def boards_file() -> Path:
    return resources.boards_dir() / "qemu" / "boards.toml"


@cache
def boards() -> dict[str, Board]:
    """The QEMU boards by name, read once per process."""
    return load_boards()


def targets() -> list[Target]:
    return [_target(b, t) for b in boards().values() for t in b.transports]
