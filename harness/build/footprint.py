"""Where an image's bytes go: flash and RAM per component, from the linker map."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

# First match wins: (component, test on the input section name, test on the input file).
_RULES: tuple[tuple[str, str, str], ...] = (
    ("link buffers", r"\.(bss|data)\.g_server$", ""),  # packet buffer and RPC state of the server
    ("params", r"\.rodata\.utvm_params|^\.utvm_params", ""),  # a model's constant weights
    ("uart rx ring", r"\.bss\.g_ring_buf$", ""),
    ("memory", "", r"/obj/crt/src/memory/"),
    ("graph executor", "", r"/obj/crt/src/graph/"),
    ("graph table", "", r"/kernel\d+_model_graph\.o$"),  # the graph executor's table of the model
    ("aot executor", "", r"/obj/crt/src/aot/|/kernel\d+_model_aot\.o$"),  # loop, RPC module, call table
    ("runtime", "", r"/obj/crt/src/runtime/"),
    ("link layer", "", r"/obj/crt/src/rpc/(framing|session)\.o$"),
    ("rpc server", "", r"/obj/crt/src/rpc/"),
    ("port", "", r"/obj/crt/platform/"),
    ("kernels", "", r"/(kernel\d+_[^/]*|system_lib)\.o$"),
    ("libc/libgcc", "", r"\.a\(|crt\w*\.o$|/lib/gcc/|/libc"),
)
# Parts of the crt counted against the runtime budget: the runtime, its memory, the RPC server and
# the link layer.
RUNTIME_COMPONENTS = ("memory", "runtime", "link layer", "rpc server")
DEFAULT_MAX_PACKET_SIZE = 2048  # crt/include/utvm/config.h


def runtime_use(fp: Mapping[str, Mapping[str, int]], defines: Mapping[str, str]) -> tuple[int, int]:
    """Flash and RAM bytes of runtime + RPC server + link layer, the RAM without the
    packet buffer (max packet + 8-byte length + 3-byte session header)."""
    flash, ram = fp["flash"], fp["ram"]
    packet_buffer = int(defines.get("UTVM_MAX_PACKET_SIZE", DEFAULT_MAX_PACKET_SIZE)) + 8 + 3
    used_flash = sum(flash.get(k, 0) for k in RUNTIME_COMPONENTS)
    used_ram = sum(ram.get(k, 0) for k in RUNTIME_COMPONENTS) + ram.get("link buffers", 0) - packet_buffer
    return used_flash, used_ram

_OUT_SECTION = re.compile(r"^(\.\S+|\S+)(?:\s+0x[0-9a-f]+\s+0x[0-9a-f]+)?")
_INPUT = re.compile(r"^ (\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
_FILL = re.compile(r"^ \*fill\*\s+0x[0-9a-f]+\s+0x([0-9a-f]+)")  # alignment padding between inputs


@dataclass
class Footprint:
    flash: dict[str, int]
    ram: dict[str, int]

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {"flash": dict(self.flash), "ram": dict(self.ram)}


def _classify(section: str, obj: str) -> str:
    for name, sec_re, obj_re in _RULES:
        if (not sec_re or re.search(sec_re, section)) and (not obj_re or re.search(obj_re, obj)):
            return name
    return "other"


def copied_sections(elf: ELFFile) -> set[str]:
    """Sections loaded at one address and run at another: copied to RAM at start (.data, and a model's
    parameters when they run from RAM), so in flash and in RAM."""
    moved = [seg for seg in elf.iter_segments()
             if seg["p_type"] == "PT_LOAD" and seg["p_filesz"] and seg["p_vaddr"] != seg["p_paddr"]]
    return {sec.name for sec in elf.iter_sections() if sec["sh_type"] != "SHT_NOBITS" and sec["sh_size"]
            and any(seg.section_in_segment(sec) for seg in moved)}


def _section_kinds(elf: Path) -> dict[str, tuple[bool, bool, int]]:
    """Output section -> (occupies flash, occupies RAM, size)."""
    kinds = {}
    with elf.open("rb") as f:
        image = ELFFile(f)
        copied = copied_sections(image)
        for sec in image.iter_sections():
            flags = sec["sh_flags"]
            if not flags & SH_FLAGS.SHF_ALLOC:
                continue
            nobits = sec["sh_type"] == "SHT_NOBITS"
            in_ram = bool(flags & SH_FLAGS.SHF_WRITE) or sec.name in copied
            # .data is in both: its initial values in flash, the variables in RAM
            kinds[sec.name] = (not nobits, in_ram, sec["sh_size"])
    return kinds


def _count(kind: tuple[bool, bool, int], component: str, size: int, flash: dict[str, int],
           ram: dict[str, int]) -> None:
    in_flash, in_ram, _ = kind
    if in_flash:
        flash[component] += size
    if in_ram:
        ram[component] += size


def footprint(elf: Path, map_file: Path) -> Footprint:
    kinds = _section_kinds(elf)
    flash: dict[str, int] = defaultdict(int)
    ram: dict[str, int] = defaultdict(int)
    out_section, pending = "", ""
    for line in map_file.read_text(errors="replace").splitlines():
        if line.startswith("Discarded input sections"):
            out_section = ""
        if line and not line[0].isspace():
            m = _OUT_SECTION.match(line)
            out_section = m.group(1) if m and m.group(1) in kinds else ""
            continue
        fill = _FILL.match(line)
        if fill is not None and out_section and out_section != ".stack":  # the stack is counted below
            _count(kinds[out_section], "alignment", int(fill.group(1), 16), flash, ram)
            continue
        m = _INPUT.match(line)
        if m is None:
            stripped = line.strip()
            pending = stripped if stripped.startswith(".") and " " not in stripped else ""
            continue
        name = m.group(1) or pending
        pending = ""
        size = int(m.group(3), 16)
        if not out_section or size == 0 or not name:
            continue
        _count(kinds[out_section], _classify(name, m.group(4)), size, flash, ram)
    if ".stack" in kinds:  # reserved by the linker script, no input files
        ram["stack"] += kinds[".stack"][2]
    return Footprint(dict(flash), dict(ram))
