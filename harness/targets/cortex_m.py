"""What every bare-metal Cortex-M target shares, emulated or real: the toolchain, the firmware's
compiler and linker flags, the startup code, the linker script and its memory map, the entry."""

from __future__ import annotations

from harness import resources

ARM_CC = "arm-none-eabi-gcc"
FIRMWARE_CFLAGS = ("-std=c11", "-Os", "-g", "-ffunction-sections", "-fdata-sections")
# Kernels are where a model's time goes: -O3 takes 43% fewer instructions than -Os for the test CNN
# on a Cortex-M4 (45.3 k -> 25.9 k) for 17% more kernel code; the runtime stays small at -Os.
KERNEL_CFLAGS = ("-O3",)
MAIN = resources.cortex_m() / "main.c"
STARTUP = resources.cortex_m() / "startup.c"
ECHO = resources.cortex_m() / "echo.c"  # the transport-floor firmware of the bench
LINKER_SCRIPT = resources.cortex_m() / "cortex-m.ld"
FIRMWARE_LDFLAGS = ("-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections", "-T", str(LINKER_SCRIPT))


def memory_ld(flash: tuple[int, int], ram: tuple[int, int], comment: str,
              params: tuple[int, int] | None = None) -> str:
    """The MEMORY block cortex-m.ld includes: [origin, length] of flash and RAM, and of the memory a
    model's parameters go in when it is not the flash (params_ld places them there)."""
    (fo, fl), (ro, rl) = flash, ram
    text = (f"/* {comment} */\nMEMORY\n{{\n"
            f"  FLASH (rx) : ORIGIN = {fo:#010x}, LENGTH = {fl:#x}\n"
            f"  RAM (rwx) : ORIGIN = {ro:#010x}, LENGTH = {rl:#x}\n")
    if params is not None:
        po, pl = params
        text += f"  PARAMS (r) : ORIGIN = {po:#010x}, LENGTH = {pl:#x}\n"
    return text + "}\n"


PARAMS_LD = "params.ld"  # the link file that places a model's parameters (params_ld)
_PARAMS_INPUT = "*(.rodata.utvm_params .rodata.utvm_params.*)"
# Where a model's parameters go, by placement: with the other constants (cortex-m.ld's .rodata), in a
# memory of their own (PARAMS), or run from RAM with their load image in flash (copied at start by
# startup.c, like .data, from __params_load to [__params_start, __params_end)).
_NOTHING_TO_COPY = "__params_start = 0;\n__params_end = 0;\n__params_load = 0;\n"
_PARAMS_PLACEMENTS = {
    "flash": "/* model parameters: with the other constants (cortex-m.ld's .rodata) */\n" + _NOTHING_TO_COPY,
    "params": ("/* model parameters: in the memory for them */\n"
               f".utvm_params : ALIGN(8) {{ {_PARAMS_INPUT} }} > PARAMS\n" + _NOTHING_TO_COPY),
    "ram": ("/* model parameters: run from RAM, copied there at start from flash */\n"
            f".utvm_params : ALIGN(8) {{ __params_start = .; {_PARAMS_INPUT} . = ALIGN(8); "
            "__params_end = .; } > RAM AT > FLASH\n"
            "__params_load = LOADADDR(.utvm_params);\n"),
}


def params_ld(placement: str) -> str:
    """The output section statements cortex-m.ld includes (inside its SECTIONS, ahead of .rodata, so
    they take the parameters first) for a placement: "flash", "params" or "ram"."""
    return _PARAMS_PLACEMENTS[placement]


def link_files(flash: tuple[int, int], ram: tuple[int, int], comment: str,
               params: tuple[int, int] | None = None) -> dict[str, str]:
    """memory.ld and params.ld of a board: parameters in its PARAMS memory if it has one, else in flash."""
    return {"memory.ld": memory_ld(flash, ram, comment, params),
            PARAMS_LD: params_ld("flash" if params is None else "params")}
