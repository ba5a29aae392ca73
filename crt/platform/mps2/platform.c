/* MPS2 port: SysTick extended by a wrap count into a cycle counter, reset on abort, counters. */
#include "mps2_port.h"
#include "utvm/platform.h"

uint32_t utvm_mps2_counters[MPS2_NUM_COUNTERS];
static volatile uint32_t g_timer_wraps; /* SysTick periods of 2^24 cycles */

void SysTick_Handler(void) {
  g_timer_wraps++;
  utvm_mps2_counters[MPS2_CNT_TIMER_WRAPS]++;
}

/* External interrupts all enter here (see crt/platform/cortex_m/startup.c); IRQ n is exception 16 + n. */
void External_IRQHandler(void) { utvm_mps2_transport_irq(active_irq() - 16u); }

/* Processor cycles since init, consistent even when read across a SysTick wrap; 2^56 cycles
 * (decades) before it wraps. SysTick runs freely from init on: nothing restarts it. Callable
 * with interrupts masked or not (the mask is restored). */
uint64_t utvm_platform_timer_ticks(void) {
  uint32_t primask = irq_save();
  uint32_t wraps = g_timer_wraps;
  uint32_t value = SYST_CVR;
  if (SCB_ICSR & SCB_ICSR_PENDSTSET) { /* wrapped, handler not yet run */
    value = SYST_CVR;
    wraps++;
  }
  irq_restore(primask);
  return ((uint64_t)wraps << 24) | (0xFFFFFFu - value);
}

uint64_t utvm_platform_timer_hz(void) { return UTVM_BOARD_CPU_HZ; }

utvm_status_t utvm_platform_init(void) {
  SYST_RVR = 0xFFFFFFu;
  SYST_CVR = 0;
  SYST_CSR = 0x7u; /* processor clock, interrupt on wrap, enable */
  utvm_mps2_transport_init();
  irq_enable();
  return UTVM_OK;
}

void utvm_platform_abort(utvm_status_t code) {
  (void)code;
  SCB_AIRCR = SCB_AIRCR_SYSRESET; /* the host sees a new boot announcement */
  for (;;) wait_for_interrupt();
}

/* No entropy source on these boards: mix the free-running counter (nonces only). */
utvm_status_t utvm_platform_random(uint8_t* buf, size_t n) {
  static uint32_t state = 0x9E3779B9u;
  for (size_t i = 0; i < n; ++i) {
    state ^= SYST_CVR + (uint32_t)i;
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    buf[i] = (uint8_t)state;
  }
  return UTVM_OK;
}

static const char* const kCounterNames[MPS2_NUM_COUNTERS] = {
    "rx_bytes", "rx_irqs", "rx_overruns", "hw_overruns", "rx_high_water", "rx_ring_size", "timer_wraps",
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
