/* Platform for unit tests and fuzzing: deterministic, no transport. */
#include "utvm/platform.h"

static double g_fake_now;

utvm_status_t utvm_platform_init(void) { return UTVM_OK; }
void utvm_platform_abort(utvm_status_t code) { __builtin_trap(); (void)code; }
utvm_status_t utvm_platform_timer_start(void) { g_fake_now = 0; return UTVM_OK; }
utvm_status_t utvm_platform_timer_stop(double* s) { *s = g_fake_now += 0.001; return UTVM_OK; }
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
