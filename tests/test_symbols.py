"""Link hygiene of the runtime: every global symbol crt/ defines carries the utvm_ prefix,
except the names others call it by; and the runtime's files call each other without cycles."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from harness import resources
from harness.targets.cortex_m import ARM_CC
from tests.conftest import KERNELS, build_image
from utvm_ci.vendor.port import PLATFORM_C

# Names that must stay as they are, each with why. Anything else global in crt/ is utvm_*.
EXCEPTIONS = {
    r"TVMBackend\w+": "TVM's C backend ABI (tvm/runtime/c_backend_api.h): generated kernels call these",
    r"TVMFFI\w+": "TVM-FFI's C ABI (tvm/ffi/c_api.h): generated kernels call these",
    r"__tvm_ffi_\w+": "entry points of TVM-generated kernels, looked up by that name",
    r"main": "the C entry (host main.c; crt/platform/cortex_m/main.c, called by the startup code)",
    r"\w+_(IRQ)?Handler": "Cortex-M exception and interrupt vectors: the startup code's vector table "
                          "(crt/platform/cortex_m/startup.c, CMSIS names such as SysTick_Handler, "
                          "Reset_Handler) binds them",
}
_EXCEPTION = re.compile("|".join(f"(?:{p})" for p in EXCEPTIONS))
# Images that between them build every file of crt/src and crt/platform (both MPS2 transports).
IMAGES = ["host", "qemu-mps2-an385", "qemu-mps2-an385-semihosting"]


def symbols(obj: Path) -> tuple[set[str], set[str]]:
    """(defined, referenced) global and weak symbols of an object file."""
    defined, referenced = set(), set()
    with obj.open("rb") as f:
        for sym in ELFFile(f).get_section_by_name(".symtab").iter_symbols():
            if sym.name and sym["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK"):
                (referenced if sym["st_shndx"] == "SHN_UNDEF" else defined).add(sym.name)
    return defined, referenced


def crt_objects(target: str) -> list[Path]:
    image = build_image(target, [KERNELS / "handwritten.c"])
    objects = sorted((Path(image.artifact).parent / "obj" / "crt").rglob("*.o"))
    assert objects, f"no runtime objects beside {image.artifact}"
    return objects


def unprefixed(defined: set[str]) -> list[str]:
    return sorted(s for s in defined if not s.startswith("utvm_") and not _EXCEPTION.fullmatch(s))


@pytest.mark.parametrize("target", IMAGES)
def test_global_symbols_of_crt_carry_the_prefix(target: str) -> None:
    found: dict[str, list[str]] = {}
    seen: set[str] = set()
    for obj in crt_objects(target):
        defined, _ = symbols(obj)
        seen |= defined
        if bad := unprefixed(defined):
            found[str(obj).split("/obj/", 1)[1]] = bad
    assert not found, f"global symbols without the utvm_ prefix (make them static or utvm_*): {found}"
    assert "main" in seen and {"TVMBackendAllocWorkspace", "TVMFFIErrorSetRaisedFromCStr"} <= seen
    if target != "host":
        assert "SysTick_Handler" in seen  # the exceptions are exercised, not vacuous


def test_scaffolded_port_carries_the_prefix(tmp_path: Path) -> None:
    src = tmp_path / "platform.c"
    src.write_text(PLATFORM_C.format(name="acme"))
    obj = tmp_path / "platform.o"
    subprocess.run([ARM_CC, "-std=c11", "-mcpu=cortex-m4", "-mthumb", "-Wall", "-Wextra", "-Werror",
                    "-DUTVM_BOARD_CPU_HZ=16000000u", f"-I{resources.crt() / 'include'}", "-c", str(src),
                    "-o", str(obj)],
                   check=True, capture_output=True, text=True)
    defined, _ = symbols(obj)
    assert "utvm_platform_timer_ticks" in defined
    assert not unprefixed(defined), unprefixed(defined)


def test_runtime_files_call_each_other_without_cycles() -> None:
    """crt/src as a graph of objects (A -> B when A uses a symbol B defines) has no cycle."""
    objects = [o for o in crt_objects("qemu-mps2-an385") if "/obj/crt/src/" in str(o)]
    defined = {o: symbols(o)[0] for o in objects}
    owner = {name: o for o, names in defined.items() for name in names}
    calls = {o: {owner[n] for n in symbols(o)[1] if owner.get(n, o) != o} for o in objects}

    def cycle_from(start: Path, path: list[Path]) -> list[Path] | None:
        for nxt in calls[path[-1]]:
            if nxt == start:
                return [*path, nxt]
            if nxt not in path and (found := cycle_from(start, [*path, nxt])):
                return found
        return None

    for o in objects:
        if cyc := cycle_from(o, [o]):
            pytest.fail("call cycle: " + " -> ".join(p.name for p in cyc))
