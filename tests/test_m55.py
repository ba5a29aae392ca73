"""The Cortex-M55 board (qemu-mps3-an547): its build flags and memory map (code in ITCM, model
parameters in SRAM, data in DTCM), and an image that runs MVE (Helium) instructions, which works only
if the start-up code enabled them (CP10/CP11 access; a core without it takes a UsageFault, NOCP, at
the first one, and the device resets)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from elftools.elf.elffile import ELFFile

from harness import resources
from harness.device import Device
from harness.models.deploy import fit
from harness.targets import get_target
from tests.conftest import build_image
from tests.test_mlperf_models import compiled, image

M55_TARGETS = ["qemu-mps3-an547", "qemu-mps3-an547-semihosting"]
MVE_KERNEL = resources.crt() / "tests" / "mve_dot.c"


@pytest.mark.parametrize("name", M55_TARGETS)
def test_m55_target_builds_for_helium_with_its_memories(name: str) -> None:
    target = get_target(name)
    assert {"-mcpu=cortex-m55", "-mfloat-abi=hard", "-fno-if-conversion2"} <= set(target.cflags)
    assert {"fpu", "dsp", "mve"} <= target.features
    assert target.flash_bytes == target.ram_bytes == 512 * 1024  # ITCM and DTCM
    memory = target.link_files["memory.ld"]
    assert "ORIGIN = 0x10000000, LENGTH = 0x80000" in memory  # ITCM, secure alias
    assert "ORIGIN = 0x30000000, LENGTH = 0x80000" in memory  # DTCM, secure alias
    assert "PARAMS (r) : ORIGIN = 0x11000000, LENGTH = 0x200000" in memory  # SRAM, secure alias
    assert target.params_bytes == 2 * 1024 * 1024


def test_other_boards_keep_parameters_in_flash() -> None:
    for name in ("qemu-mps2-an385", "qemu-mps2-an505"):
        target = get_target(name)
        assert target.params_bytes is None and "PARAMS" not in target.link_files["memory.ld"]


def _sections(elf: str) -> dict[str, tuple[int, int]]:
    with open(elf, "rb") as f:
        return {s.name: (s["sh_addr"], s["sh_size"]) for s in ELFFile(f).iter_sections()}


def test_vww01_parameters_go_to_sram_and_its_budget_is_the_sram() -> None:
    """vww01 (~56 KB of parameters once its dead channels are folded away, ~120 KB of code) with its
    code in ITCM, its parameters (every byte of them) in SRAM."""
    target = get_target("qemu-mps3-an547")
    assert fit.check(compiled("vww01").graph, target)["flash_free_bytes"] == 2 * 1024 * 1024
    sections = _sections(image("vww01", target.name).artifact)
    addr, size = sections[".utvm_params"]
    params = compiled("vww01").graph.plan_stats["params_bytes"]
    assert addr >= 0x1100_0000 and addr + size <= 0x1120_0000 and size >= params >= 50_000
    text, text_size = sections[".text"]
    assert text >= 0x1000_0000 and text + text_size <= 0x1008_0000


@pytest.mark.parametrize("name", M55_TARGETS)
def test_mve_kernel_runs_on_the_m55(name: str, tmp_path: Path) -> None:
    manifest = build_image(name, [MVE_KERNEL])
    asm = subprocess.run(["arm-none-eabi-objdump", "-d", "-marmv8.1-m.main", manifest.artifact],
                         check=True, capture_output=True, text=True).stdout
    body = asm.split("<__tvm_ffi_mve_dot>:", 1)[1].split("\n\n", 1)[0]
    assert "vctp.8" in body and "vmlavat.s8" in body, body  # the kernel is MVE code
    rng = np.random.default_rng(55)
    with Device(manifest, workdir=tmp_path) as client:
        sessions = client.stats()["sessions_started"]
        dot = client.get_function("mve_dot")
        for n in (0, 1, 15, 16, 17, 333):
            a, b = (rng.integers(-128, 128, n, dtype=np.int8) for _ in range(2))
            assert dot(client.tensor(a), client.tensor(b)) == int(a.astype(np.int64) @ b.astype(np.int64))
        assert client.stats()["sessions_started"] == sessions  # no fault reset the core on the way
