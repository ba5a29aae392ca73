"""A lab's board inventory: one YAML file, validated on load.

    lab: nightly
    boards:
      - name: m3-a
        target: qemu-mps2-an385           # the port (a target of `utvm targets`)
        serial: {port: /dev/ttyACM0, baud: 115200}   # or: labgrid: {place: m3-a, coordinator: lab:20408}
        flash: {command: "pyocd flash -t lpc1768 {elf}"}   # or pyocd / openocd / copy
        reset: {command: "pyocd reset -t lpc1768"}
        power: {off: "...", on: "..."}    # optional
        tags: [fpu]
        timeouts: {flash: 120, multiplier: 2}

A mistake is reported with the file, the line and the field, and nothing runs.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from harness.device.dut import Hooks
from harness.errors import UtvmError
from harness.targets import all_targets


class InventoryError(UtvmError):
    """The inventory file is wrong; the message names file, line and field."""


@dataclass(frozen=True)
class Board:
    name: str
    target: str
    port: str | None = None  # serial port or pyserial URL
    baud: int = 115200
    labgrid_place: str | None = None
    labgrid_coordinator: str | None = None  # host:port; default: $LG_COORDINATOR
    flash_cmd: str = ""  # a command template with {elf} and {port}
    reset_cmd: str | None = None
    power_off_cmd: str | None = None
    power_on_cmd: str | None = None
    tags: frozenset[str] = frozenset()
    flash_timeout: float = 300.0
    timeout_multiplier: float = 1.0

    def hooks(self) -> Hooks:
        """The board's flash and reset commands, as the nightly and the tuner run them."""
        return Hooks(flash=self.flash_cmd, reset=self.reset_cmd, timeout=self.flash_timeout)


@dataclass(frozen=True)
class Inventory:
    lab: str
    boards: tuple[Board, ...]
    path: Path

    def by_target(self) -> dict[str, list[Board]]:
        groups: dict[str, list[Board]] = {}
        for b in self.boards:
            groups.setdefault(b.target, []).append(b)
        return groups


@dataclass
class _Node:
    """A YAML value with where it was written."""

    value: Any
    line: int
    children: dict[str, _Node] = field(default_factory=dict)
    items: list[_Node] = field(default_factory=list)


def _convert(node: Any) -> _Node:
    import yaml

    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = _Node({}, line)
        for k, v in node.value:
            key = str(k.value)
            if key in out.children:
                raise InventoryError(f"line {k.start_mark.line + 1}: {key!r} appears twice")
            out.children[key] = _convert(v)
        out.value = {k: c.value for k, c in out.children.items()}
        return out
    if isinstance(node, yaml.SequenceNode):
        items = [_convert(v) for v in node.value]
        return _Node([i.value for i in items], line, items=items)
    return _Node(yaml.safe_load(yaml.serialize(node)), line)


class _Reader:
    """Typed access to one mapping, with errors that say where."""

    def __init__(self, path: Path, node: _Node, where: str) -> None:
        self.path, self.node, self.where = path, node, where
        if not isinstance(node.value, dict):
            self.fail(node, f"expected a mapping, got {type(node.value).__name__}")

    def fail(self, node: _Node, message: str, key: str = "") -> NoReturn:
        name = f"{self.where}.{key}" if key else self.where
        raise InventoryError(f"{self.path}:{node.line}: {name}: {message}")

    def get(self, key: str, kind: type | tuple[type, ...], required: bool = False,
            default: Any = None) -> Any:
        child = self.node.children.get(key)
        if child is None or child.value is None:
            if required:
                self.fail(self.node, "is required", key)
            return default
        if (isinstance(child.value, bool) and kind is not bool) or not isinstance(child.value, kind):
            names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            self.fail(child, f"expected {names}, got {child.value!r}", key)
        return child.value

    def sub(self, key: str) -> _Reader | None:
        child = self.node.children.get(key)
        if child is None or child.value is None:
            return None
        return _Reader(self.path, child, f"{self.where}.{key}")

    def only(self, allowed: set[str]) -> None:
        for key, child in self.node.children.items():
            if key not in allowed:
                self.fail(child, f"unknown field (expected one of {', '.join(sorted(allowed))})", key)


# ---- flash methods: each turns its settings into a command template ----
def _flash_command(r: _Reader) -> str:
    return str(r.get("command", str, required=True))


def _flash_pyocd(r: _Reader) -> str:
    return f"pyocd flash --target {shlex.quote(r.get('target', str, required=True))} {{elf}}"


def _flash_openocd(r: _Reader) -> str:
    cfg = shlex.quote(r.get("config", str, required=True))
    return f"openocd -f {cfg} -c 'program {{elf}} verify reset exit'"


def _flash_copy(r: _Reader) -> str:
    mount = shlex.quote(r.get("mount", str, required=True))
    return f"test -d {mount} && cp {{elf_bin}} {mount}/ && sync"


FLASH_METHODS: dict[str, Callable[[_Reader], str]] = {
    "command": _flash_command, "pyocd": _flash_pyocd, "openocd": _flash_openocd, "copy": _flash_copy,
}


def _flash(board: _Reader) -> str:
    r = board.sub("flash")
    if r is None:
        board.fail(board.node, "is required (command, pyocd, openocd or copy)", "flash")
    methods = [m for m in FLASH_METHODS if m in r.node.children]
    if len(methods) != 1:
        r.fail(r.node, f"give exactly one of {', '.join(FLASH_METHODS)}")
    method = methods[0]
    if method == "command":
        return FLASH_METHODS[method](r)
    sub = r.sub(method)
    if sub is None:
        r.fail(r.node, "needs settings", method)
    return FLASH_METHODS[method](sub)


def _board(path: Path, node: _Node, index: int) -> Board:
    r = _Reader(path, node, f"boards[{index}]")
    r.only({"name", "target", "serial", "labgrid", "flash", "reset", "power", "tags", "timeouts"})
    name = r.get("name", str, required=True)
    target = r.get("target", str, required=True)
    if target not in all_targets():
        r.fail(node.children["target"], f"unknown target {target!r} (see `utvm targets`)", "target")
    serial, labgrid = r.sub("serial"), r.sub("labgrid")
    if (serial is None) == (labgrid is None):
        r.fail(node, "give exactly one of serial or labgrid")
    port = baud = place = coordinator = None
    if serial is not None:
        serial.only({"port", "baud"})
        port, baud = serial.get("port", str, required=True), serial.get("baud", int, default=115200)
        if baud <= 0:
            serial.fail(serial.node.children["baud"], "must be positive", "baud")
    if labgrid is not None:
        labgrid.only({"place", "coordinator"})
        place = labgrid.get("place", str, required=True)
        coordinator = labgrid.get("coordinator", str)
    reset, power, timeouts = r.sub("reset"), r.sub("power"), r.sub("timeouts")
    if reset is not None:
        reset.only({"command"})
    if power is not None:
        power.only({"off", "on"})
    if timeouts is not None:
        timeouts.only({"flash", "multiplier"})
    tags = r.get("tags", list, default=[])
    if not all(isinstance(t, str) for t in tags):
        r.fail(node.children["tags"], "expected a list of strings", "tags")
    return Board(
        name=name, target=target, port=port, baud=baud or 115200, labgrid_place=place,
        labgrid_coordinator=coordinator, flash_cmd=_flash(r),
        reset_cmd=reset.get("command", str, required=True) if reset else None,
        power_off_cmd=power.get("off", str, required=True) if power else None,
        power_on_cmd=power.get("on", str, required=True) if power else None,
        tags=frozenset(tags),
        flash_timeout=float(timeouts.get("flash", (int, float), default=300)) if timeouts else 300.0,
        timeout_multiplier=float(timeouts.get("multiplier", (int, float), default=1)) if timeouts else 1.0,
    )


def load(path: Path) -> Inventory:
    import yaml

    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise InventoryError(f"cannot read inventory {path}: {exc}") from None
    try:
        composed = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise InventoryError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if composed is None:
        raise InventoryError(f"{path}: the inventory is empty")
    try:
        root = _convert(composed)
    except InventoryError as exc:
        raise InventoryError(f"{path}:{str(exc).removeprefix('line ')}") from None
    top = _Reader(Path(path), root, "inventory")
    top.only({"lab", "boards"})
    lab = top.get("lab", str, required=True)
    boards_node = root.children.get("boards")
    if boards_node is None or not isinstance(boards_node.value, list) or not boards_node.items:
        top.fail(boards_node or root, "needs a non-empty list of boards", "boards")
    boards = tuple(_board(Path(path), n, i) for i, n in enumerate(boards_node.items))
    seen: dict[str, int] = {}
    for i, b in enumerate(boards):
        if b.name in seen:
            line = boards_node.items[i].line
            other = seen[b.name]
            raise InventoryError(f"{path}:{line}: boards[{i}].name: {b.name!r} is also boards[{other}]")
        seen[b.name] = i
    return Inventory(lab, boards, Path(path))
