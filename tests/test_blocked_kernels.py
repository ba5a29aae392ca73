"""The register-blocked micro-kernels of crt/include/utvm/dsp_blocked.h (matrix product for 1x1
convolutions and fully connected layers, depthwise general and 3x3, the fused requantization):
crt/tests/blocked_check.c compares them with naive int64 references and with their portable build
(blocked_twin.c) on the host under ASan/UBSan and bare-metal under QEMU, mps3-an547 (Cortex-M55,
Helium: utvm/dsp_blocked_mve.h, dsp_blocked_mve_dw.h; GCC and clang-14 builds), mps2-an386
(Cortex-M4, SMLAD) and mps2-an385 (Cortex-M3, SMLAL tiles: utvm/dsp_blocked_smlal.h; GCC and clang-14);
crt/tests/blocked_bench.c counts instructions per MAC under -icount on each, on the M3 built with
and without its SMLAL tiles, and on the M55 built with and without MVE; crt/tests/blocked_dw_bench.c
the models' depthwise layers on the M4."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_c_units import compile_c
from tests.test_mve_kernels import (
    BOARDS,
    INCLUDE,
    TESTS,
    WARNINGS,
    clang_baremetal,
    clang_m55,
    disassembly,
    qemu,
)

CHECK = re.compile(r"blocked: (\d+) checks, 0 mismatches \((\w+) path\)")
# The path dsp_blocked.h takes where it differs from utvm/dsp.h's (BOARDS): the M3's SMLAL tiles.
BLOCKED_PATHS = {"mps2-an385": "SMLAL"}
PORTABLE = ["-DUTVM_BLK_PORTABLE"]


def baremetal(out: Path, sources: list[str], cflags: list[str], opt: str = "-O3") -> Path:
    """Like test_mve_kernels.baremetal, with several sources."""
    # -fno-if-conversion2: binutils 2.40 rejects some vcvtne GCC 12 writes for the M55
    subprocess.run(["arm-none-eabi-gcc", *WARNINGS, opt, "-fno-if-conversion2", "-mthumb", *cflags,
                    "-DUTVM_BAREMETAL", f"-I{INCLUDE}", f"-I{TESTS}", *[str(TESTS / s) for s in sources],
                    str(TESTS / "bm_startup.c"), "-T", str(TESTS / "bm.ld"), "-nostartfiles",
                    "--specs=nano.specs", "-o", str(out)], check=True, capture_output=True, text=True)
    return out


def test_blocked_checks_under_sanitizers(tmp_path: Path) -> None:
    for cc in ("gcc", "clang-14"):
        if shutil.which(cc) is None:
            continue
        sources = [str(TESTS / "blocked_check.c"), str(TESTS / "blocked_twin.c")]
        exe = compile_c(tmp_path / f"blocked_{cc}", sources, cc=cc, extra=(f"-I{TESTS}",))
        proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and proc.stderr == "", proc.stdout + proc.stderr
        match = CHECK.search(proc.stdout)
        assert match and int(match[1]) > 100000 and match[2] == "portable", proc.stdout


@pytest.mark.parametrize("machine", ["mps3-an547", "mps2-an386", "mps2-an385"])
def test_blocked_checks_bare_metal_under_qemu(machine: str, tmp_path: Path) -> None:
    cflags, path = BOARDS[machine]
    path = BLOCKED_PATHS.get(machine, path)
    for opt in ("-O2", "-O3"):
        elf = baremetal(tmp_path / f"check{opt}.elf", ["blocked_check.c", "blocked_twin.c"], cflags, opt)
        status, output = qemu(machine, elf)
        match = CHECK.search(output)
        assert status == 0 and match and int(match[1]) > 100000 and match[2] == path, f"{opt}: {output}"


def bench(machine: str, tmp_path: Path, cflags: list[str] | None = None) -> dict[str, float]:
    elf = baremetal(tmp_path / f"bench-{machine}.elf", ["blocked_bench.c"], cflags or BOARDS[machine][0])
    status, output = qemu(machine, elf, "-icount", "shift=5")
    assert status == 0, output
    print("\n" + output, end="")
    return {name: float(v) for name, v in re.findall(r"bench (.+?): ([\d.]+) instructions per MAC", output)}


def test_blocked_instructions_per_mac(tmp_path: Path) -> None:
    smlad = bench("mps2-an386", tmp_path)
    (tmp_path / "portable").mkdir()
    portable = bench("mps2-an385", tmp_path / "portable", BOARDS["mps2-an385"][0] + PORTABLE)
    kws_pointwise = "matmul 1x1 conv 25x5 pixels k=64 c=64 (kws01)"
    # (kws01's own convolutions, shapes constant in the generated C: 2.1 per MAC, bench/layer_macs.py)
    assert smlad[kws_pointwise] < 3.5 and smlad[kws_pointwise] * 1.25 < portable[kws_pointwise]
    for name, value in smlad.items():
        assert value < portable[name] * 1.2, name  # never much worse than the portable build


def test_blocked_smlal_instructions_per_mac(tmp_path: Path) -> None:
    """The M3's SMLAL tiles (two MACs per SMLAL, utvm/dsp_blocked_smlal.h) against its portable build."""
    smlal = bench("mps2-an385", tmp_path)
    (tmp_path / "portable").mkdir()
    portable = bench("mps2-an385", tmp_path / "portable", BOARDS["mps2-an385"][0] + PORTABLE)
    for name in ("matmul 1x1 conv 25x5 pixels k=64 c=64 (kws01)", "kws01 pointwise call (literal shapes)"):
        # 17 instructions per 16 MACs in the loop: 1.52 per MAC for the layer (3.59 portable)
        assert smlal[name] < 1.6 and smlal[name] * 2.2 < portable[name], name
    for name, value in smlal.items():
        assert value < portable[name] * 1.05, name  # nothing else slower


def test_blocked_depthwise_layers_of_the_models_per_mac(tmp_path: Path) -> None:
    """crt/tests/blocked_dw_bench.c: kws01's and vww01's depthwise layers through UTVM_BLK_DW_CALL with
    literal shapes on mps2-an386 (Cortex-M4, SMLAD path), each expanded in place as in the generated
    kernels: kws01's layer 3.19 instructions per MAC, vww01's 3.33 together (3.46 and 4.75 per MAC in
    the models before the requantization in one SMULL and the per-layer expansion)."""
    elf = baremetal(tmp_path / "dw-bench.elf", ["blocked_dw_bench.c"], BOARDS["mps2-an386"][0])
    status, output = qemu("mps2-an386", elf, "-icount", "shift=5")
    assert status == 0, output
    print("\n" + output, end="")
    found = re.findall(r"dw (.+?): \d+ instructions, ([\d.]+) per MAC", output)
    per_mac = {name: float(v) for name, v in found}
    assert len(per_mac) == 15, output
    assert per_mac["kws01 25x5x64"] < 3.3 and per_mac["vww01 all layers"] < 3.45, per_mac


def test_blocked_helium_instructions_per_mac(tmp_path: Path) -> None:
    """The Helium path against the SMLAD one on the same core (Cortex-M55 built without MVE)."""
    helium = bench("mps3-an547", tmp_path)
    (tmp_path / "nomve").mkdir()
    smlad = bench("mps3-an547", tmp_path / "nomve", ["-mcpu=cortex-m55+nomve", "-mfloat-abi=hard"])
    for name in ("matmul 1x1 conv 25x5 pixels k=64 c=64 (kws01)", "kws01 pointwise call (literal shapes)"):
        # SMLAD's 2 x 2 tile loop in Thumb-2 (dsp_blocked_smlad.h) runs 15 instructions per 16 MACs:
        # 1.35 per MAC for the layer, Helium's 0.35 is 3.85 times faster (4.9 times against the C loop)
        assert helium[name] < 0.5 and smlad[name] < 1.5 and helium[name] * 3.5 < smlad[name], name
    for name in ("dw3x3 25x5 c=64 (kws01)", "kws01 depthwise call (literal shapes)"):
        assert helium[name] < 3.0 and helium[name] * 2.5 < smlad[name], name


def test_blocked_checks_built_by_clang_under_qemu(tmp_path: Path) -> None:
    """The Helium path as LLVM compiles it (clang-14 objects, linked by arm-none-eabi-gcc)."""
    if shutil.which("clang-14") is None:
        pytest.skip("clang-14 is not installed")
    status, output = qemu("mps3-an547", clang_m55(tmp_path, ["blocked_check", "blocked_twin", "bm_startup"]))
    match = CHECK.search(output)
    assert status == 0 and match and int(match[1]) > 100000 and match[2] == "Helium", output


def test_blocked_smlal_checks_built_by_clang_under_qemu(tmp_path: Path) -> None:
    """The M3's SMLAL tiles (naked asm functions, the packing's inline asm) as LLVM assembles them."""
    if shutil.which("clang-14") is None:
        pytest.skip("clang-14 is not installed")
    elf = clang_baremetal(tmp_path, ["blocked_check", "blocked_twin", "bm_startup"], BOARDS["mps2-an385"][0])
    status, output = qemu("mps2-an385", elf)
    match = CHECK.search(output)
    assert status == 0 and match and int(match[1]) > 100000 and match[2] == "SMLAL", output


def test_blocked_helium_build_uses_mve_and_no_smlad(tmp_path: Path) -> None:
    elf = baremetal(tmp_path / "bench.elf", ["blocked_bench.c"], BOARDS["mps3-an547"][0])
    asm = disassembly(elf)
    for insn in ("vmlava.s8", "vctp.8", "vmullb.s16", "vmullt.s16", "vqrdmulh.s32", "vrshl.s32",
                 "vmovnt.i32"):
        assert insn in asm, insn
    assert "smlad" not in asm
