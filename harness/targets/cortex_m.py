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
    model's parameters go in when it is not the flash (they are then placed there, ahead of
    cortex-m.ld's own sections, which would keep them with the other constants)."""
    (fo, fl), (ro, rl) = flash, ram
    text = (f"/* {comment} */\nMEMORY\n{{\n"
            f"  FLASH (rx) : ORIGIN = {fo:#010x}, LENGTH = {fl:#x}\n"
            f"  RAM (rwx) : ORIGIN = {ro:#010x}, LENGTH = {rl:#x}\n")
    if params is None:
        return text + "}\n"
    po, pl = params
    return (text + f"  PARAMS (r) : ORIGIN = {po:#010x}, LENGTH = {pl:#x}\n}}\n"
            "SECTIONS\n{\n"
            "  .utvm_params : ALIGN(8) { *(.rodata.utvm_params .rodata.utvm_params.*) } > PARAMS\n}\n")
