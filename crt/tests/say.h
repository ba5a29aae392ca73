/* Text out for the kernel checks and benches (kernel_check.c, blocked_check.c, kernel_bench.c,
 * blocked_bench.c): semihosting on a bare-metal board (UTVM_BAREMETAL, bm.h), stdout on the host;
 * integers and thousandths printed without printf (newlib's is large, and absent bare-metal). */
#ifndef UTVM_TESTS_SAY_H_
#define UTVM_TESTS_SAY_H_

#include <stdint.h>

#ifdef UTVM_BAREMETAL
#include "bm.h"
static inline void say(const char* s) { bm_puts(s); }
#else
#include <stdio.h>
static inline void say(const char* s) { fputs(s, stdout); }
#endif

static inline void say_int(int64_t v) {
  char buf[24], *p = buf + sizeof buf - 1;
  uint64_t u = v < 0 ? 0u - (uint64_t)v : (uint64_t)v;
  *p = '\0';
  do {
    *--p = (char)('0' + u % 10u);
    u /= 10u;
  } while (u);
  if (v < 0) *--p = '-';
  say(p);
}

/* milli / 1000 with three decimals. */
static inline void say_milli(uint64_t milli) {
  char buf[32], *p = buf + sizeof buf - 1;
  *p = '\0';
  for (int digits = 0; digits < 4 || milli; ++digits, milli /= 10u) {
    if (digits == 3) *--p = '.';
    *--p = (char)('0' + milli % 10u);
  }
  say(p);
}

#endif
