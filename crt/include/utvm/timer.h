/*
 * Measuring time over the port's free-running counter (utvm_platform_timer_ticks).
 * A utvm_timer_t is one measurement, owned by whoever measures: timers nest and
 * overlap freely (an inner start/stop never disturbs an outer measurement), and a
 * timer that is never stopped costs nothing.
 *
 *   utvm_timer_t t;
 *   utvm_timer_start(&t);
 *   ... work ...
 *   utvm_timer_stop(&t, &seconds);
 */
#ifndef UTVM_TIMER_H_
#define UTVM_TIMER_H_

#include <stdint.h>

#include "utvm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  uint64_t start; /* counter reading at utvm_timer_start */
  uint64_t lap;   /* counter reading at the latest lap (the start before the first) */
} utvm_timer_t;

/* Begin a measurement: reads the counter once. */
void utvm_timer_start(utvm_timer_t* t);

/* Seconds since utvm_timer_start(t) into *seconds. The timer may go on: each stop
 * measures from the same start. UTVM_ERR_PLATFORM (and 0 s) if the port's counter
 * runs backwards or has no rate. */
utvm_status_t utvm_timer_stop(const utvm_timer_t* t, double* seconds);

/* Ticks since the previous lap (or the start) into *ticks; the next lap begins at this
 * reading. Consecutive laps share their boundary readings, so they add up exactly to the
 * ticks from start to the last lap; nothing but the counter read happens between a lap's
 * readings (convert with utvm_timer_seconds afterwards). UTVM_ERR_PLATFORM (and 0 ticks)
 * if the counter ran backwards. */
utvm_status_t utvm_timer_lap(utvm_timer_t* t, uint64_t* ticks);

/* Ticks in seconds, at the port's rate (0 if it has none). */
double utvm_timer_seconds(uint64_t ticks);

#ifdef __cplusplus
}
#endif
#endif /* UTVM_TIMER_H_ */
