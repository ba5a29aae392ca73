/* The runtime's timers over the port's free-running counter: nesting, laps, a broken counter. */
#include "check.h"
#include "fake_platform.h"
#include "utvm/timer.h"

#define US(t) ((double)(t) / UTVM_FAKE_TIMER_HZ)

static int close_to(double a, double b) { return a - b < 1e-12 && b - a < 1e-12; }

static void test_inner_timer_does_not_disturb_outer(void) {
  utvm_timer_t outer, inner, forgotten;
  double s_outer = -1, s_inner = -1, again = -1;
  utvm_fake_timer_set_step(0);
  utvm_timer_start(&outer);
  utvm_fake_timer_advance(100);
  utvm_timer_start(&inner);
  utvm_timer_start(&forgotten); /* started, never stopped: costs nothing */
  utvm_fake_timer_advance(50);
  CHECK(utvm_timer_stop(&inner, &s_inner) == UTVM_OK && close_to(s_inner, US(50)));
  utvm_fake_timer_advance(25);
  CHECK(utvm_timer_stop(&outer, &s_outer) == UTVM_OK && close_to(s_outer, US(175)));
  utvm_fake_timer_advance(5);
  CHECK(utvm_timer_stop(&outer, &again) == UTVM_OK && close_to(again, US(180))); /* same start */
  CHECK(utvm_timer_stop(&inner, &s_inner) == UTVM_OK && close_to(s_inner, US(80)));
  utvm_fake_timer_set_step(1000);
}

static void test_overlapping_timers_and_a_reading_cost(void) {
  utvm_timer_t a, b;
  double sa, sb;
  utvm_fake_timer_set_step(3); /* every read of the counter takes 3 ticks */
  utvm_timer_start(&a);
  utvm_timer_start(&b);
  utvm_fake_timer_advance(1000);
  CHECK(utvm_timer_stop(&a, &sa) == UTVM_OK && close_to(sa, US(1006))); /* a ends before b */
  CHECK(utvm_timer_stop(&b, &sb) == UTVM_OK && close_to(sb, US(1006)));
  utvm_fake_timer_set_step(1000);
}

static void test_laps_add_up_to_the_measurement(void) {
  utvm_timer_t t;
  uint64_t lap[3], sum = 0;
  double total;
  utvm_fake_timer_set_step(2);
  utvm_timer_start(&t);
  for (int i = 0; i < 3; ++i) {
    utvm_fake_timer_advance(100u * (unsigned)(i + 1));
    CHECK(utvm_timer_lap(&t, &lap[i]) == UTVM_OK);
    sum += lap[i];
  }
  CHECK(lap[0] == 102 && lap[1] == 202 && lap[2] == 302);
  CHECK(utvm_timer_stop(&t, &total) == UTVM_OK);
  CHECK(close_to(total, US(sum + 2))); /* the laps, and the one read after the last */
  CHECK(close_to(utvm_timer_seconds(1500), 1.5e-3));
  utvm_fake_timer_set_step(1000);
}

static void test_counter_running_backwards_is_an_error(void) {
  utvm_timer_t t;
  double s = -1;
  uint64_t ticks = 1;
  utvm_fake_timer_set_step(0);
  utvm_timer_start(&t);
  utvm_fake_timer_rewind(10);
  CHECK(utvm_timer_stop(&t, &s) == UTVM_ERR_PLATFORM && s == 0.0);
  CHECK(utvm_timer_lap(&t, &ticks) == UTVM_ERR_PLATFORM && ticks == 0);
  utvm_fake_timer_advance(10);
  utvm_fake_timer_set_step(1000);
}

void test_timer(void) {
  RUN(test_inner_timer_does_not_disturb_outer);
  RUN(test_overlapping_timers_and_a_reading_cost);
  RUN(test_laps_add_up_to_the_measurement);
  RUN(test_counter_running_backwards_is_an_error);
}
