"""The lab inventory: valid files load; every mistake names file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from utvm_ci.lab.inventory import InventoryError, load

GOOD = """\
lab: nightly
boards:
  - name: m3-a
    target: qemu-mps2-an385
    serial: {port: /dev/ttyACM0, baud: 921600}
    flash: {pyocd: {target: lpc1768}}
    reset: {command: "pyocd reset -t lpc1768"}
    tags: [fast]
    timeouts: {flash: 60, multiplier: 2}
  - name: m3-b
    target: qemu-mps2-an385
    labgrid: {place: m3-b}
    flash: {command: "utvm virtual-board flash /tmp/vb1 {elf}"}
  - name: m33
    target: qemu-mps2-an505
    serial: {port: "rfc2217://lab:4000"}
    flash: {openocd: {config: board/m33.cfg}}
    power: {off: "pdu off 3", on: "pdu on 3"}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_text(text)
    return path


def test_a_good_inventory_loads(tmp_path: Path) -> None:
    inv = load(write(tmp_path, GOOD))
    assert inv.lab == "nightly" and [b.name for b in inv.boards] == ["m3-a", "m3-b", "m33"]
    a, b, c = inv.boards
    assert a.port == "/dev/ttyACM0" and a.baud == 921600
    assert a.flash_cmd == "pyocd flash --target lpc1768 {elf}"
    assert a.reset_cmd and a.tags == {"fast"} and a.flash_timeout == 60 and a.timeout_multiplier == 2
    assert b.labgrid_place == "m3-b" and b.port is None and b.baud == 115200
    assert "openocd -f board/m33.cfg" in c.flash_cmd and c.power_on_cmd == "pdu on 3"
    assert {k: [x.name for x in v] for k, v in inv.by_target().items()} == {
        "qemu-mps2-an385": ["m3-a", "m3-b"], "qemu-mps2-an505": ["m33"]}


@pytest.mark.parametrize(("change", "where", "message"), [
    (("baud: 921600", "baud: fast"), ":5: boards[0].serial.baud", "expected int, got 'fast'"),
    (("target: qemu-mps2-an505", "target: stm32-nope"), ":15: boards[2].target",
     "unknown target 'stm32-nope'"),
    (("    labgrid: {place: m3-b}\n", ""), ":10: boards[1]", "give exactly one of serial or labgrid"),
    (("name: m3-b", "name: m3-a"), ":10: boards[1].name", "'m3-a' is also boards[0]"),
    (("    tags: [fast]\n", "    colour: red\n"), ":8: boards[0].colour", "unknown field"),
    (("flash: {pyocd: {target: lpc1768}}", "flash: {}"), ":6: boards[0].flash",
     "give exactly one of command"),
    (("{pyocd: {target: lpc1768}}", "{pyocd: {}}"), ":6: boards[0].flash.pyocd.target", "is required"),
    (("lab: nightly\n", ""), ":1: inventory.lab", "is required"),
    (("reset: {command", "reset: {command: 1, command"), ":7", "'command' appears twice"),
    (("  - name: m3-a", "  - name: [m3-a"), ":", "not valid YAML"),
])
def test_mistakes_name_file_line_and_field(tmp_path: Path, change: tuple[str, str], where: str,
                                           message: str) -> None:
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(InventoryError) as info:
        load(path)
    text = str(info.value)
    assert text.startswith(str(path)) and where in text and message in text, text


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="cannot read inventory"):
        load(tmp_path / "none.yaml")
    with pytest.raises(InventoryError, match="is empty"):
        load(write(tmp_path, ""))
    with pytest.raises(InventoryError, match="non-empty list of boards"):
        load(write(tmp_path, "lab: x\nboards: []\n"))
