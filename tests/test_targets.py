"""Targets as objects: a manifest carries its Target (manifest.json keeps the name, and older manifests
still load), and each kind of target says how its images start with a typed Starter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.build import Manifest
from harness.errors import BuildError, UtvmError
from harness.link.serial import SerialTransport
from harness.targets import StartOptions, Target, all_targets, get_target
from harness.targets.boards import SerialBoardStarter, board_target
from harness.targets.host import ProcessStarter
from harness.targets.qemu import QemuStarter
from tests.conftest import KERNELS, build_image

BOARD_TOML = {"description": "Acme M4", "cflags": ["-mcpu=cortex-m4", "-mthumb"], "cpu_hz": 80_000_000,
              "flash": [0x0800_0000, 0x10_0000], "ram": [0x2000_0000, 0x2_0000]}


def test_a_manifest_holds_its_target_and_saves_its_name(tmp_path: Path) -> None:
    image = build_image("qemu-mps2-an385", [KERNELS / "handwritten.c"])
    assert image.target is get_target("qemu-mps2-an385")
    path = Path(image.artifact).parent / "manifest.json"
    assert json.loads(path.read_text())["target"] == "qemu-mps2-an385"
    again = Manifest.load(path)
    assert again.target is image.target and again == image
    copy = tmp_path / "manifest.json"
    again.save(copy)
    assert json.loads(copy.read_text()) == json.loads(path.read_text())


def test_a_manifest_from_before_the_testing_field_still_loads(tmp_path: Path) -> None:
    old = {"target": "host", "artifact": "/x/utvm.elf", "rpc_launcher": "/x/utvm.elf", "functions": ["add"],
           "size": {"text": 1, "data": 2, "bss": 3}, "toolchain": "gcc", "build_key": "k", "sources": []}
    (tmp_path / "manifest.json").write_text(json.dumps(old))
    manifest = Manifest.load(tmp_path / "manifest.json")
    assert manifest.target is get_target("host") and manifest.testing and manifest.footprint == {}


@pytest.mark.parametrize(("text", "error", "message"), [
    ('{"target": "no-such-board", "artifact": "a"}', UtvmError, "unknown target 'no-such-board'"),
    ('{"artifact": "a"}', BuildError, "no target name"),
    ("[1, 2]", BuildError, "not a JSON object"),
    ('{"target": "host", "artifact": "a"}', BuildError, "missing"),
])
def test_a_bad_manifest_is_one_clear_error(tmp_path: Path, text: str, error: type[Exception],
                                           message: str) -> None:
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(error, match=message):
        Manifest.load(tmp_path / "manifest.json")


def test_each_kind_of_target_has_a_typed_starter() -> None:
    targets = all_targets()
    assert isinstance(targets["host"].starter, ProcessStarter)
    qemu = targets["qemu-mps2-an385-semihosting"].starter
    assert isinstance(qemu, QemuStarter)
    assert (qemu.board.name, qemu.transport) == ("qemu-mps2-an385", "semihosting")
    board = board_target("acme-m4", BOARD_TOML, Path("/vendor/boards/acme-m4.toml"))
    assert isinstance(board.starter, SerialBoardStarter)


def test_a_real_board_is_reached_over_its_serial_port(tmp_path: Path) -> None:
    board: Target = board_target("acme-m4", BOARD_TOML, Path("/vendor/boards/acme-m4.toml"))
    with pytest.raises(UtvmError, match="real board: reach it with --serial-port"):
        board.start(tmp_path / "utvm.elf", tmp_path)
    link = board.start(tmp_path / "utvm.elf", tmp_path, StartOptions(serial_port="/dev/ttyACM7"))
    assert isinstance(link, SerialTransport)
