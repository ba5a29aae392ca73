/* MPS2 port: interrupts, reset on abort, nonces, counters. The clock is timer_*.c, the link transport_*.c. */
#include "mps2_port.h"
#include "utvm/platform.h"

uint32_t utvm_mps2_counters[MPS2_NUM_COUNTERS];
/* External interrupts all enter here (see crt/platform/cortex_m/startup.c); IRQ n is exception 16 + n. */
void External_IRQHandler(void) { utvm_mps2_transport_irq(active_irq() - 16u); }

utvm_status_t utvm_platform_init(void) {
  utvm_mps2_timer_init();
  utvm_mps2_transport_init();
  irq_enable();
  return UTVM_OK;
}

void utvm_platform_abort(utvm_status_t code) {
  (void)code;
  SCB_AIRCR = SCB_AIRCR_SYSRESET; /* the host sees a new boot announcement */
  for (;;) wait_for_interrupt();
}

/* No entropy source on these boards: mix the free-running clock (nonces only). */
utvm_status_t utvm_platform_random(uint8_t* buf, size_t n) {
  static uint32_t state = 0x9E3779B9u;
  for (size_t i = 0; i < n; ++i) {
    state ^= (uint32_t)utvm_platform_timer_ticks() + (uint32_t)i;
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    buf[i] = (uint8_t)state;
  }
  return UTVM_OK;
}

static const char* const kCounterNames[MPS2_NUM_COUNTERS] = {
    "rx_bytes", "rx_irqs", "rx_overruns", "hw_overruns", "rx_high_water", "rx_ring_size",
    "stack_used", "stack_size",
};

extern uint32_t __stack_bottom[], __stack_top[]; /* crt/platform/cortex_m/cortex-m.ld */
#define STACK_PAINT 0xA5A5A5A5u                  /* crt/platform/cortex_m/startup.c paints with it */

static void measure_stack(void) {
  const uint32_t* w = __stack_bottom;
  while (w < __stack_top && *w == STACK_PAINT) ++w;
  utvm_mps2_counters[MPS2_CNT_STACK_USED] = (uint32_t)((uintptr_t)__stack_top - (uintptr_t)w);
  utvm_mps2_counters[MPS2_CNT_STACK_SIZE] = (uint32_t)((uintptr_t)__stack_top - (uintptr_t)__stack_bottom);
}

const utvm_counter_t* utvm_platform_counters(size_t* n) {
  static utvm_counter_t table[MPS2_NUM_COUNTERS];
  measure_stack();
  for (int i = 0; i < MPS2_NUM_COUNTERS; ++i) {
    table[i].name = kCounterNames[i];
    table[i].value = utvm_mps2_counters[i];
  }
  *n = MPS2_NUM_COUNTERS;
  return table;
}
