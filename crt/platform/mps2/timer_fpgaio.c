/* The MPS2/MPS3 FPGA's cycle counter as the port's clock.
 *
 * The FPGA system control block counts COUNTER up at its prescale clock (PRESCALE = 0: every
 * clock) and CLK1HZ up once a second; init zeroes both. COUNTER is 32 bits and wraps
 * after 2^32 clocks (171 s at 25 MHz); which wrap a reading is in follows from CLK1HZ, since the
 * seconds say where the count should be to within a second, far less than half a wrap. So the
 * 64-bit count needs no interrupt: nothing the clock does lands inside a timed region (a SysTick
 * wrap interrupt used to, lengthening whichever repeat it hit), and reading it is two loads.
 *
 * Board facts (-D, from boards/qemu/boards.toml): UTVM_BOARD_TIMER_BASE, the block's address;
 * UTVM_BOARD_TIMER_HZ, its prescale clock.
 */
#include "mps2_port.h"
#include "utvm/platform.h"

#if !defined(UTVM_BOARD_TIMER_BASE) || !defined(UTVM_BOARD_TIMER_HZ)
#error "UTVM_BOARD_TIMER_BASE and UTVM_BOARD_TIMER_HZ must come from the board description"
#endif

#define FPGAIO_CLK1HZ MMIO32(UTVM_BOARD_TIMER_BASE + 0x10u)
#define FPGAIO_COUNTER MMIO32(UTVM_BOARD_TIMER_BASE + 0x18u)
#define FPGAIO_PRESCALE MMIO32(UTVM_BOARD_TIMER_BASE + 0x1Cu)

/* Both counters start from 0 here, together: the clock's origin. */
void utvm_mps2_timer_init(void) {
  FPGAIO_PRESCALE = 0u;
  FPGAIO_COUNTER = 0u;
  FPGAIO_CLK1HZ = 0u;
}

/* Clocks since init: the low 32 bits are COUNTER; the wraps above them put the count nearest the
 * seconds' estimate (the two are read one after the other: they may disagree by a second). */
static uint64_t extend(uint32_t count, uint32_t seconds) {
  int64_t estimate = (int64_t)((uint64_t)seconds * UTVM_BOARD_TIMER_HZ);
  uint64_t wraps = (uint64_t)(estimate - (int64_t)count + ((int64_t)1 << 31)) >> 32;
  return (wraps << 32) | count;
}

uint64_t utvm_platform_timer_ticks(void) {
  uint32_t count = FPGAIO_COUNTER;
  return extend(count, FPGAIO_CLK1HZ);
}

uint64_t utvm_platform_timer_hz(void) { return UTVM_BOARD_TIMER_HZ; }
