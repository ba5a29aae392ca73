/* Platform for unit tests and fuzzing: deterministic, no transport. */
#include "fake_platform.h"
#include "utvm/platform.h"

static uint64_t g_ticks;
static uint64_t g_step = 1000;

void utvm_fake_timer_set_step(uint64_t per_read) { g_step = per_read; }
void utvm_fake_timer_advance(uint64_t ticks) { g_ticks += ticks; }
void utvm_fake_timer_rewind(uint64_t ticks) { g_ticks -= ticks; }

utvm_status_t utvm_platform_init(void) { return UTVM_OK; }
void utvm_platform_abort(utvm_status_t code) { __builtin_trap(); (void)code; }
uint64_t utvm_platform_timer_ticks(void) { return g_ticks += g_step; }
uint64_t utvm_platform_timer_hz(void) { return UTVM_FAKE_TIMER_HZ; }
utvm_status_t utvm_platform_random(uint8_t* buf, size_t n) {
  for (size_t i = 0; i < n; ++i) buf[i] = 0x66;
  return UTVM_OK;
}
int32_t utvm_platform_read(uint8_t* buf, size_t cap) { (void)buf; (void)cap; return 0; }
int32_t utvm_platform_write(const uint8_t* buf, size_t n) { (void)buf; return (int32_t)n; }

const utvm_counter_t* utvm_platform_counters(size_t* n) {
  *n = 0;
  return NULL;
}
