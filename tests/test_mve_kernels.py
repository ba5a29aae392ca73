"""The Helium (MVE) micro-kernels (crt/include/utvm/dsp_mve.h, utvm/requant.h) and their twins:
crt/tests/kernel_check.c compares the dot products, the depthwise MAC and the requantization, on
whichever path the compiler selects, with int64 references (and, on Helium, the vector
requantization with the scalar one) on the host under ASan/UBSan and bare-metal under QEMU:
mps3-an547 (Cortex-M55, Helium), mps2-an386 (Cortex-M4, SMLAD), mps2-an385 (Cortex-M3, portable).
The Helium checks also run as clang-14 compiles them.
crt/tests/kernel_bench.c counts instructions per MAC under -icount on the Cortex-M55 for the
Helium, SMLAD and portable builds of the same kernels."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import resources
from tests.test_c_units import compile_c

TESTS = resources.crt() / "tests"
INCLUDE = resources.crt() / "include"
HARD = ["-mfloat-abi=hard"]
# (QEMU machine, compiler flags, the path utvm/dsp.h takes there)
BOARDS = {
    "mps3-an547": (["-mcpu=cortex-m55", *HARD], "Helium"),
    "mps2-an386": (["-mcpu=cortex-m4", *HARD, "-mfpu=fpv4-sp-d16"], "SMLAD"),
    "mps2-an385": (["-mcpu=cortex-m3", "-mfloat-abi=soft"], "portable"),
}
# The same kernels on the Cortex-M55 with MVE, without MVE (SMLAD), without the DSP extension.
M55_BUILDS = {"Helium": "cortex-m55", "SMLAD": "cortex-m55+nomve", "portable": "cortex-m55+nodsp"}
WARNINGS = ["-std=c11", "-Wall", "-Wextra", "-Werror"]


def baremetal(out: Path, program: str, cflags: list[str], opt: str = "-O2") -> Path:
    """A bare-metal semihosting program (bm_startup.c, bm.ld) around crt/tests/<program>."""
    # -fno-if-conversion2: binutils 2.40 rejects some vcvtne GCC 12 writes for the M55
    subprocess.run(["arm-none-eabi-gcc", *WARNINGS, opt, "-fno-if-conversion2", "-mthumb", *cflags,
                    "-DUTVM_BAREMETAL", f"-I{INCLUDE}", f"-I{TESTS}", str(TESTS / program),
                    str(TESTS / "bm_startup.c"), "-T", str(TESTS / "bm.ld"), "-nostartfiles",
                    "--specs=nano.specs", "-o", str(out)], check=True, capture_output=True, text=True)
    return out


def qemu(machine: str, elf: Path, *extra: str, timeout: float = 300) -> tuple[int, str]:
    """Exit status (the program's, through SYS_EXIT_EXTENDED) and output (semihosting's console
    writes go to QEMU's stderr)."""
    proc = subprocess.run(["qemu-system-arm", "-M", machine, *extra, "-nographic", "-monitor", "none",
                           "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)],
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout + proc.stderr


def clang_baremetal(tmp_path: Path, programs: list[str], cpu: list[str]) -> Path:
    """crt/tests programs (names without .c) compiled by clang-14 for `cpu` (its -mcpu and float ABI
    flags), -O3, bare-metal, and linked by arm-none-eabi-gcc with bm.ld: the kernels as LLVM compiles
    them."""
    cpu = [*cpu, "-mthumb"]
    objs = []
    for name in programs:
        objs.append(str(tmp_path / f"{name}.o"))
        subprocess.run(["clang-14", "--target=arm-none-eabi", *cpu, *WARNINGS, "-O3", "-DUTVM_BAREMETAL",
                        "-isystem", "/usr/lib/arm-none-eabi/include", f"-I{INCLUDE}", f"-I{TESTS}", "-c",
                        str(TESTS / f"{name}.c"), "-o", objs[-1]], check=True, capture_output=True, text=True)
    elf = tmp_path / "check.elf"
    subprocess.run(["arm-none-eabi-gcc", *cpu, *objs, "-T", str(TESTS / "bm.ld"), "-nostartfiles",
                    "--specs=nano.specs", "-o", str(elf)], check=True, capture_output=True, text=True)
    return elf


def clang_m55(tmp_path: Path, programs: list[str]) -> Path:
    """The Helium paths as LLVM compiles them (clang_baremetal for the Cortex-M55)."""
    return clang_baremetal(tmp_path, programs, ["-mcpu=cortex-m55", *HARD])


def disassembly(elf: Path) -> str:
    return subprocess.run(["arm-none-eabi-objdump", "-d", "-marmv8.1-m.main", str(elf)], check=True,
                          capture_output=True, text=True).stdout


def test_kernel_checks_under_sanitizers(tmp_path: Path) -> None:
    for cc in ("gcc", "clang-14"):
        if shutil.which(cc) is None:
            continue
        exe = compile_c(tmp_path / f"kernels_{cc}", [str(TESTS / "kernel_check.c")], cc=cc)
        proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and proc.stderr == "", proc.stdout + proc.stderr
        assert re.search(r"kernels: \d{6,} checks, 0 mismatches \(portable path\)", proc.stdout), proc.stdout


@pytest.mark.parametrize("machine", sorted(BOARDS))
def test_kernel_checks_bare_metal_under_qemu(machine: str, tmp_path: Path) -> None:
    cflags, path = BOARDS[machine]
    for opt in ("-O2", "-O3"):
        elf = baremetal(tmp_path / f"check{opt}.elf", "kernel_check.c", cflags, opt)
        status, output = qemu(machine, elf)
        assert status == 0, f"{opt}: exit {status}\n{output}"
        assert re.search(rf"kernels: \d{{6,}} checks, 0 mismatches \({path} path\)", output), output


def test_kernel_checks_built_by_clang_under_qemu(tmp_path: Path) -> None:
    """The Helium kernels as LLVM compiles them (clang-14 objects, linked by arm-none-eabi-gcc)."""
    if shutil.which("clang-14") is None:
        pytest.skip("clang-14 is not installed")
    status, output = qemu("mps3-an547", clang_m55(tmp_path, ["kernel_check", "bm_startup"]))
    assert status == 0 and re.search(r"kernels: \d{6,} checks, 0 mismatches \(Helium path\)", output), output


def test_helium_build_uses_mve_and_no_smlad(tmp_path: Path) -> None:
    elf = baremetal(tmp_path / "check.elf", "kernel_check.c", BOARDS["mps3-an547"][0])
    asm = disassembly(elf)
    for insn in ("vmlava.s8", "vctp.8", "vmullb.s8", "vmovlt.s16", "vqrdmulh.s32", "vrshl.s32", "vqadd.s32"):
        assert insn in asm, insn
    assert "smlad" not in asm


def test_helium_headers_are_iso_c11(tmp_path: Path) -> None:
    """The public headers with MVE enabled (the generic test compiles them for the default core)."""
    for header in ("dsp.h", "dsp_mve.h", "requant.h"):
        src = tmp_path / f"{header}.c"
        src.write_text(f'#include "utvm/{header}"\ntypedef int not_empty;\n')
        proc = subprocess.run(["arm-none-eabi-gcc", *WARNINGS, "-pedantic-errors", "-mcpu=cortex-m55", *HARD,
                               "-mthumb", f"-I{INCLUDE}", "-fsyntax-only", str(src)], capture_output=True,
                              text=True, check=False)
        assert proc.returncode == 0, f"{header}: {proc.stderr}"


def bench(tmp_path: Path) -> dict[str, dict[str, float]]:
    """kernel_bench.c's figures on mps3-an547 under -icount shift=5, per build: {path: {name: value}}."""
    figures: dict[str, dict[str, float]] = {}
    for path, cpu in M55_BUILDS.items():
        elf = baremetal(tmp_path / f"bench-{path}.elf", "kernel_bench.c", [f"-mcpu={cpu}", *HARD], "-O3")
        status, output = qemu("mps3-an547", elf, "-icount", "shift=5")
        assert status == 0, output
        rows = re.findall(r"bench (.+?): ([\d.]+) instructions per \w+ \((\w+)\)", output)
        assert rows and {r[2] for r in rows} == {path}, output
        figures[path] = {name: float(value) for name, value, _ in rows}
        print("\n" + output, end="")
    return figures


def test_helium_instructions_per_mac(tmp_path: Path) -> None:
    figures = bench(tmp_path)
    helium, smlad, portable = figures["Helium"], figures["SMLAD"], figures["portable"]
    for name in ("dot_s8 n=256", "dot_s8 n=1024", "dot_s8_x4 n=256"):
        assert helium[name] < 0.35 and helium[name] * 6 < smlad[name] < portable[name], name
    assert helium["dw_mac_s8 3x3 c=64"] * 2 < smlad["dw_mac_s8 3x3 c=64"]
    assert helium["requant_s8_n n=64"] * 4 < portable["requant_s8_n n=64"]
