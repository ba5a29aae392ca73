"""Build configurations (harness.targets.config): named ones from the board descriptions, ad-hoc ones
from axes, a configured target's name and build settings, and clear errors for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import UtvmError
from harness.targets import cortex_m, get_target
from harness.targets.boards import board_target
from harness.targets.config import BuildConfig, ConfigError, UnknownConfig, configure, named_config

AN386 = "qemu-mps2-an386-semihosting"


def test_every_qemu_board_has_the_named_configurations() -> None:
    target = get_target(AN386)
    assert named_config(target, "default") == BuildConfig() and BuildConfig().is_default
    assert named_config(target, "weights-ram").weights == "ram"
    assert named_config(target, "size").opt == "Os"
    speed = named_config(target, "speed")
    assert speed.opt == "O3" and "-funroll-loops" in speed.cflags and speed.weights == "flash"


def test_a_configured_target_carries_its_configuration_in_its_name() -> None:
    plain = get_target(AN386)
    assert configure(plain, BuildConfig()) is plain
    ram = configure(plain, named_config(plain, "weights-ram"))
    assert ram.name == f"{AN386}@weights-ram" and ram.config.weights == "ram" and ram.params_in_ram
    assert "> RAM AT > FLASH" in ram.link_files[cortex_m.PARAMS_LD]
    assert ram.link_files["memory.ld"] == plain.link_files["memory.ld"]
    assert ram.kernel_cflags == plain.kernel_cflags and ram.cflags == plain.cflags
    assert not plain.params_in_ram and "RAM" not in plain.link_files[cortex_m.PARAMS_LD]
    size = configure(plain, named_config(plain, "size"))
    assert size.name == f"{AN386}@size" and size.kernel_cflags == ("-Os",)
    assert size.link_files == plain.link_files


def test_get_target_understands_configured_names_and_makes_each_once() -> None:
    target = get_target(f"{AN386}@speed")
    assert target is get_target(f"{AN386}@speed")
    assert target.kernel_cflags == ("-O3", "-funroll-loops")
    assert get_target(f"{AN386}@default") is get_target(AN386)
    assert get_target("host@opt=O1").kernel_cflags == ("-O1",)


def test_ad_hoc_configurations_from_axes_are_named_by_what_they_change() -> None:
    assert BuildConfig.from_axes() == BuildConfig()
    assert BuildConfig.from_axes(weights="flash").name == "default"
    both = BuildConfig.from_axes(opt="-O2", weights="ram")
    assert (both.name, both.opt, both.weights) == ("opt=O2+weights=ram", "O2", "ram")
    target = get_target(AN386)
    speed = named_config(target, "speed")
    over = BuildConfig.from_axes(weights="ram", base=speed)
    assert over.name == "speed+weights=ram" and over.cflags == speed.cflags and over.opt == "O3"
    assert named_config(target, over.name) == over and named_config(target, both.name) == both
    assert configure(target, both).name == f"{AN386}@opt=O2+weights=ram"


@pytest.mark.parametrize(("name", "message"), [
    ("fast", r"unknown configuration 'fast' for qemu-mps2-an386-semihosting; known: default, size, speed, "
             r"weights-ram"),
    ("size+cache=on", r"'cache=on' is not an axis setting"),
    ("weights=ram+opt=O2", r"is spelt 'opt=O2\+weights=ram'"),
    ("opt=O9", r"optimisation level 'O9' is not one of"),
    ("weights=sram", r"weights 'sram' is not one of flash, ram"),
])
def test_a_bad_configuration_name_is_one_clear_line(name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        named_config(get_target(AN386), name)
    assert "\n" not in str(info.value) and isinstance(info.value, UtvmError)


def test_an_unknown_configuration_of_a_known_target_is_an_unknown_config() -> None:
    with pytest.raises(UnknownConfig, match="known: default"):
        get_target("host@weights-ram")
    with pytest.raises(ConfigError, match="cannot place its weights in RAM"):
        get_target("host@weights=ram")
    with pytest.raises(UtvmError, match="unknown target 'nope'"):
        get_target("nope@size")


def test_a_configured_target_is_not_configured_again() -> None:
    with pytest.raises(ConfigError, match="already configured"):
        configure(get_target(f"{AN386}@size"), BuildConfig.from_axes(weights="ram"))


def test_a_real_board_declares_configurations_with_start_up_defines_and_its_clock(tmp_path: Path) -> None:
    raw = {"description": "Acme M4", "cflags": ["-mcpu=cortex-m4", "-mthumb"], "cpu_hz": 80_000_000,
           "flash": [0x0800_0000, 0x10_0000], "ram": [0x2000_0000, 0x2_0000],
           "configs": {"fast-clock": {"description": "PLL at 160 MHz, caches on", "cpu_hz": 160_000_000,
                                      "defines": {"UTVM_BOARD_PLL_MHZ": "160", "UTVM_BOARD_CACHES": "1"}}}}
    board = board_target("acme", raw, tmp_path / "boards" / "acme.toml")
    fast = configure(board, named_config(board, "fast-clock"))
    assert fast.name == "acme@fast-clock" and fast.cpu_hz == 160_000_000
    assert fast.defines["UTVM_BOARD_PLL_MHZ"] == "160" and fast.defines["UTVM_BOARD_CPU_HZ"] == "160000000u"
    assert board.defines["UTVM_BOARD_CPU_HZ"] == "80000000u" and fast.cycles(1.0) == 160_000_000
    bad = {**raw, "configs": {"fast": {"opt": "O3", "clock": 1}}}
    with pytest.raises(ConfigError, match=r"unknown keys \['clock'\]"):
        board_target("acme", bad, tmp_path / "boards" / "acme.toml")
    with pytest.raises(ConfigError, match="must be lower-case"):
        board_target("acme", {**raw, "configs": {"Fast+1": {}}}, tmp_path / "boards" / "acme.toml")
