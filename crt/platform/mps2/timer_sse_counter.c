/* The SSE-300 system counter as the port's clock: 64 bits at the system clock, no wraps to
 * extend and no interrupt, so nothing the clock does lands inside a timed region.
 *
 * Board facts (-D, from boards/qemu/boards.toml): UTVM_BOARD_TIMER_BASE, the counter's status
 * frame (CNTCV); UTVM_BOARD_TIMER_CONTROL, its control frame (CNTCR, secure only);
 * UTVM_BOARD_TIMER_HZ, its clock.
 */
#include "mps2_port.h"
#include "utvm/platform.h"

#if !defined(UTVM_BOARD_TIMER_BASE) || !defined(UTVM_BOARD_TIMER_CONTROL) || !defined(UTVM_BOARD_TIMER_HZ)
#error "UTVM_BOARD_TIMER_BASE, _CONTROL and _HZ must come from the board description"
#endif

#define CNTCR MMIO32(UTVM_BOARD_TIMER_CONTROL + 0x0u)
#define CNTCR_EN 1u
#define CNTCV_LO MMIO32(UTVM_BOARD_TIMER_BASE + 0x0u)
#define CNTCV_HI MMIO32(UTVM_BOARD_TIMER_BASE + 0x4u)

static uint64_t g_origin;

static uint64_t count(void) {
  uint32_t hi, lo;
  do { /* the high word again after the low one: a carry between the two loads reads again */
    hi = CNTCV_HI;
    lo = CNTCV_LO;
  } while (CNTCV_HI != hi);
  return ((uint64_t)hi << 32) | lo;
}

void utvm_mps2_timer_init(void) {
  CNTCR |= CNTCR_EN;
  g_origin = count();
}

uint64_t utvm_platform_timer_ticks(void) { return count() - g_origin; }

uint64_t utvm_platform_timer_hz(void) { return UTVM_BOARD_TIMER_HZ; }
