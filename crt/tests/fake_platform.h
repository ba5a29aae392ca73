/* Controls of the fake platform (fake_platform.c) for the unit tests. */
#ifndef UTVM_TESTS_FAKE_PLATFORM_H_
#define UTVM_TESTS_FAKE_PLATFORM_H_
#include <stdint.h>

/* The fake counter runs at 1 MHz: each read advances it by `per_read` ticks (1000, i.e.
 * 1 ms, unless set); utvm_fake_timer_advance moves it on by hand. */
#define UTVM_FAKE_TIMER_HZ 1000000u
void utvm_fake_timer_set_step(uint64_t per_read);
void utvm_fake_timer_advance(uint64_t ticks);
/* Make the counter run backwards once (a broken port). */
void utvm_fake_timer_rewind(uint64_t ticks);

#endif
