"""Properties of the image the device runs, read from the ELF and its manifest."""

from __future__ import annotations

from pathlib import Path

from elftools.elf.constants import P_FLAGS, SH_FLAGS
from elftools.elf.elffile import ELFFile

from harness.device.dut import DeviceUnderTest

MALLOC_FAMILY = {"malloc", "calloc", "realloc", "free", "aligned_alloc", "posix_memalign", "memalign",
                 "valloc", "pvalloc", "reallocarray", "_malloc_r", "_free_r", "_calloc_r", "_realloc_r"}


def _symbols(elf: ELFFile) -> dict[str, int]:
    """Symbol name -> index of its section (0 when undefined)."""
    out: dict[str, int] = {}
    for sec in elf.iter_sections():
        if sec["sh_type"] in ("SHT_SYMTAB", "SHT_DYNSYM"):
            for sym in sec.iter_symbols():
                shndx = sym["st_shndx"]
                out[sym.name.split("@")[0]] = shndx if isinstance(shndx, int) else 0
    return out


def test_no_malloc_family(dut: DeviceUnderTest) -> None:
    with open(dut.manifest.artifact, "rb") as f:
        names = set(_symbols(ELFFile(f)))
    assert "utvm_serve_framed" in names, "the symbol table was not read"
    assert not names & MALLOC_FAMILY, sorted(names & MALLOC_FAMILY)


def test_constant_data_is_in_read_only_memory(dut: DeviceUnderTest) -> None:
    """The kernels' constant table and every read-only section load into non-writable memory
    (flash on a board), never into RAM."""
    with open(dut.manifest.artifact, "rb") as f:
        elf = ELFFile(f)
        table_section = elf.get_section(_symbols(elf)["utvm_test_table"])
        assert not table_section["sh_flags"] & SH_FLAGS.SHF_WRITE, table_section.name
        writable = [seg for seg in elf.iter_segments()
                    if seg["p_type"] == "PT_LOAD" and seg["p_flags"] & P_FLAGS.PF_W]
        for sec in elf.iter_sections():
            flags = sec["sh_flags"]
            if flags & SH_FLAGS.SHF_ALLOC and not flags & SH_FLAGS.SHF_WRITE and sec["sh_size"]:
                assert not any(seg.section_in_segment(sec) for seg in writable), f"{sec.name} lands in RAM"


def test_manifest_has_the_size_figures(dut: DeviceUnderTest) -> None:
    m = dut.manifest
    assert Path(m.artifact).is_file()
    assert all(m.size[k] > 0 for k in ("text", "data", "bss")), m.size
    assert {"scale", "add_int", "table"} <= set(m.functions)
    assert m.toolchain
    flash = m.footprint.get("flash", {})
    assert flash.get("runtime", 0) > 0 and flash.get("kernels", 0) > 0, m.footprint
