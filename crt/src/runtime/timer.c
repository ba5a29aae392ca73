/* Measurements over the port's free-running counter: each timer keeps its own readings. */
#include "utvm/timer.h"

#include <stdbool.h>

#include "utvm/platform.h"

void utvm_timer_start(utvm_timer_t* t) { t->start = t->lap = utvm_platform_timer_ticks(); }

double utvm_timer_seconds(uint64_t ticks) {
  uint64_t hz = utvm_platform_timer_hz();
  return hz != 0 ? (double)ticks / (double)hz : 0.0;
}

utvm_status_t utvm_timer_stop(const utvm_timer_t* t, double* seconds) {
  uint64_t now = utvm_platform_timer_ticks();
  *seconds = 0.0;
  if (now < t->start || utvm_platform_timer_hz() == 0) return UTVM_ERR_PLATFORM;
  *seconds = utvm_timer_seconds(now - t->start);
  return UTVM_OK;
}

utvm_status_t utvm_timer_lap(utvm_timer_t* t, uint64_t* ticks) {
  uint64_t now = utvm_platform_timer_ticks();
  bool ok = now >= t->lap;
  *ticks = ok ? now - t->lap : 0;
  t->lap = now;
  return ok ? UTVM_OK : UTVM_ERR_PLATFORM;
}
