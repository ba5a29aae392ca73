"""`utvm port new NAME`: scaffold a port for a real board.

Writes boards/NAME.toml (the board description, read by harness/targets/boards.py) and
crt/platform/NAME/platform.c: the platform functions to fill in, each with what
it must do. The firmware's entry (crt/platform/cortex_m/main.c), startup
and linker script are shared with every Cortex-M board. The scaffold builds as
it is (`utvm build --target NAME`); its link answers nothing until the UART
functions are written.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.errors import UtvmError
from harness.targets import all_targets

CPUS = {
    "cortex-m0plus": ["-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"],
    "cortex-m3": ["-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"],
    "cortex-m4": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    "cortex-m7": ["-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"],
    "cortex-m33": ["-mcpu=cortex-m33", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"],
    # binutils 2.40 rejects some vcvtne.f32.s32 GCC 12 emits for the M55 after its second if-conversion.
    "cortex-m55": ["-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard", "-fno-if-conversion2"],
}

BOARD_TOML = """\
# {name}: a real board, reached over its UART. Read by harness/boards.py; the port
# (the platform functions) is crt/platform/{name}/. Fill in the TODOs from the
# board's datasheet, then: utvm build --target {name} --out build/{name}
description = "{name} (TODO: the board's name and core)"
cpu = "{cpu}"
cflags = {cflags}
cpu_hz = 16_000_000              # TODO: the core clock after utvm_platform_init()
flash = [0x0800_0000, 0x0008_0000]   # TODO: [origin, length] of the flash the image goes in
ram = [0x2000_0000, 0x0002_0000]     # TODO: [origin, length] of the RAM
workspace = 16384                # bytes of RAM for kernel workspaces (the rest is for tensors)
features = []                    # facts tests may require: "fpu", "fpu-double", "dsp", ...
timeout_multiplier = 1.0         # raise it for a slow link (a low baud rate)
"""

PLATFORM_C = """\
/*
 * {name} port: the functions crt/include/utvm/platform.h asks of a board.
 * Everything else in crt/ is portable. Fill in every TODO; `utvm validate --board`
 * then runs the conformance suite against the board and writes a report to hand over.
 */
#include <stdint.h>

#include "utvm/platform.h"

#define MMIO32(addr) (*(volatile uint32_t*)(uintptr_t)(addr))
/* Architectural on every Cortex-M: SysTick and the reset request. */
#define SYST_CSR MMIO32(0xE000E010u)
#define SYST_RVR MMIO32(0xE000E014u)
#define SYST_CVR MMIO32(0xE000E018u)
#define SCB_AIRCR MMIO32(0xE000ED0Cu)

static volatile uint32_t g_wraps; /* SysTick periods of 2^24 cycles */

void SysTick_Handler(void) {{ g_wraps++; }}

/*
 * Bring up what the runtime needs, once, before anything else:
 *  - TODO: clocks, so the core runs at cpu_hz of boards/{name}.toml;
 *  - TODO: the UART pins and the UART itself (115200 8N1, or the inventory's baud),
 *    ideally with a receive interrupt into a ring buffer (crt/include/utvm/byte_ring.h),
 *    so no byte is lost while a kernel runs;
 *  - the counter below (SysTick, as given): start it here and never stop or reset it.
 * Return UTVM_OK, or an error status (the firmware then aborts).
 */
utvm_status_t utvm_platform_init(void) {{
  SYST_RVR = 0xFFFFFFu;
  SYST_CVR = 0;
  SYST_CSR = 0x7u; /* processor clock, interrupt on wrap, enable */
  __asm volatile("cpsie i" ::: "memory");
  return UTVM_ERR_PLATFORM; /* TODO: UTVM_OK once clocks and the UART are up */
}}

/* Unrecoverable error: must not return. Resetting is best: the host sees a new boot. */
void utvm_platform_abort(utvm_status_t code) {{
  (void)code;
  SCB_AIRCR = 0x05FA0004u; /* SYSRESETREQ */
  for (;;) {{
  }}
}}

/*
 * The runtime's clock: a free-running counter that only goes up and never wraps while the
 * board runs (64 bits), at utvm_platform_timer_hz() ticks per second. The runtime times
 * with it (runtime.RPCTimeEvaluator, the graph executor) by reading it at both ends; it
 * never starts or stops it, so measurements nest. SysTick extended by its wrap count works
 * on any Cortex-M (2^56 cycles: decades), but its wrap interrupt (every 2^24 cycles) lands in
 * whichever timed region it hits and lengthens it by the handler; TODO: prefer a free-running
 * counter of the board that needs no interrupt (the DWT cycle counter, a 32-bit timer extended
 * by a slower one: see crt/platform/mps2/timer_fpgaio.c).
 */
uint64_t utvm_platform_timer_ticks(void) {{
  uint32_t primask;
  __asm volatile("mrs %0, primask\\n cpsid i" : "=r"(primask)::"memory");
  uint32_t wraps = g_wraps;
  uint32_t value = SYST_CVR;
  if (MMIO32(0xE000ED04u) & (1u << 26)) {{ /* wrapped, handler not yet run */
    value = SYST_CVR;
    wraps++;
  }}
  __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
  return ((uint64_t)wraps << 24) | (0xFFFFFFu - value);
}}

/* Ticks per second of utvm_platform_timer_ticks(): TODO the SysTick clock if it is not the core's. */
uint64_t utvm_platform_timer_hz(void) {{ return UTVM_BOARD_CPU_HZ; }}

/* n bytes that differ from boot to boot (session nonces): TODO a hardware RNG if the chip has one. */
utvm_status_t utvm_platform_random(uint8_t* buf, size_t n) {{
  static uint32_t state = 0x9E3779B9u;
  for (size_t i = 0; i < n; ++i) {{
    state ^= SYST_CVR + (uint32_t)i;
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    buf[i] = (uint8_t)state;
  }}
  return UTVM_OK;
}}

/*
 * The link. read() blocks until at least one byte has arrived, stores up to cap bytes and
 * returns how many (1..cap); 0 at end of stream, negative on an error (overrun, framing).
 * TODO: take bytes from the UART's receive ring buffer, sleeping (wfi) while it is empty.
 */
int32_t utvm_platform_read(uint8_t* buf, size_t cap) {{
  (void)buf;
  (void)cap;
  return -1; /* TODO */
}}

/* write() sends all n bytes (blocking) and returns n, or negative on an error. TODO. */
int32_t utvm_platform_write(const uint8_t* buf, size_t n) {{
  (void)buf;
  (void)n;
  return -1; /* TODO */
}}

/* The port's own counters (UART overruns, ...), shown by utvm.Stats; none yet. */
const utvm_counter_t* utvm_platform_counters(size_t* n) {{
  *n = 0;
  return NULL;
}}
"""


def new_port(name: str, cpu: str, root: Path) -> list[Path]:
    if not re.fullmatch(r"[a-z][a-z0-9_-]{1,40}", name):
        raise UtvmError(f"port name {name!r}: use lower-case letters, digits, '-' and '_' (2-41 chars)")
    if cpu not in CPUS:
        raise UtvmError(f"--cpu {cpu!r}: one of {', '.join(CPUS)}")
    board = root / "boards" / f"{name}.toml"
    port = root / "crt" / "platform" / name
    if name in all_targets() or board.exists() or port.exists():
        raise UtvmError(f"{name} exists already (a target, {board} or {port})")
    cflags = "[" + ", ".join(f'"{f}"' for f in CPUS[cpu]) + "]"
    files = {board: BOARD_TOML.format(name=name, cpu=cpu, cflags=cflags),
             port / "platform.c": PLATFORM_C.format(name=name)}
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return list(files)
