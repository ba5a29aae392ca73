/* Instructions per multiply-accumulate of utvm/dsp.h's micro-kernels and per output of
 * utvm/requant.h's, bare-metal under QEMU with -icount (bm_startup.c): SysTick counts virtual time,
 * which -icount advances by a fixed step per instruction; a SUBS/BNE loop of known length calibrates
 * ticks per instruction. Prints one line per measurement: "bench NAME: X.XXX instructions per UNIT"
 * (with the path: Helium, SMLAD or portable). Whole calls are measured, loop and call overhead
 * included. */
#include <stdint.h>

#include "bm.h"
#include "say.h"
#include "utvm/dsp.h"
#include "utvm/requant.h"

#define BARRIER() __asm volatile("" ::: "memory")

static int8_t a[1024], b[4 * 1024], dw_in[9 * 64], dw_w[9 * 64];
static int32_t acc[64], mult[64], shift[64];
static int8_t out[64];
static volatile int32_t sink;


static uint32_t elapsed(uint32_t start) { return (start - bm_ticks()) & 0xFFFFFFu; }

/* Ticks per 1000 instructions. */
static uint64_t calibrate(void) {
  const uint32_t n = 200000;
  uint32_t t0 = bm_ticks();
  bm_spin(n);
  return (uint64_t)elapsed(t0) * 1000u / (2u * n + 1u);
}

static uint64_t per_unit;

static void report(const char* name, uint32_t ticks, uint32_t units, const char* unit) {
  bm_puts("bench ");
  bm_puts(name);
  bm_puts(": ");
  say_milli((uint64_t)ticks * 1000000u / per_unit / units); /* milli-instructions per unit */
  bm_puts(" instructions per ");
  bm_puts(unit);
  bm_puts(UTVM_DSP_MVE ? " (Helium)\n" : UTVM_DSP_SIMD ? " (SMLAD)\n" : " (portable)\n");
}

static void bench_dot(const char* name, int32_t n, int32_t reps) {
  int32_t s = 0;
  uint32_t t0 = bm_ticks();
  for (int32_t r = 0; r < reps; ++r) {
    s = utvm_dot_s8(a, b, n, s);
    BARRIER();
  }
  uint32_t t = elapsed(t0);
  sink = s;
  report(name, t, (uint32_t)(n * reps), "MAC");
}

static void bench_dot_x4(const char* name, int32_t n, int32_t reps) {
  uint32_t t0 = bm_ticks();
  for (int32_t r = 0; r < reps; ++r) {
    utvm_dot_s8_x4(a, b, n, n, acc);
    BARRIER();
  }
  uint32_t t = elapsed(t0);
  report(name, t, (uint32_t)(4 * n * reps), "MAC");
}

static void bench_dw(const char* name, int32_t channels, int32_t reps) {
  uint32_t t0 = bm_ticks();
  for (int32_t r = 0; r < reps; ++r) {
    utvm_dw_mac_s8(dw_in, 64, 3 * 64, dw_w, 64, 3 * 64, 3, 3, channels, acc);
    BARRIER();
  }
  uint32_t t = elapsed(t0);
  report(name, t, (uint32_t)(9 * channels * reps), "MAC");
}

static void bench_requant(const char* name, int32_t n, int32_t reps) {
  uint32_t t0 = bm_ticks();
  for (int32_t r = 0; r < reps; ++r) {
    utvm_requant_s8_n(acc, mult, shift, -5, -128, 127, n, out);
    BARRIER();
  }
  uint32_t t = elapsed(t0);
  report(name, t, (uint32_t)(n * reps), "output");
}

int main(void) {
  for (int i = 0; i < 4 * 1024; ++i) b[i] = (int8_t)(i * 37 + 11);
  for (int i = 0; i < 1024; ++i) a[i] = (int8_t)(i * 53 + 7);
  for (int i = 0; i < 9 * 64; ++i) dw_in[i] = (int8_t)(i * 29), dw_w[i] = (int8_t)(i * 13 + 1);
  for (int i = 0; i < 64; ++i) acc[i] = i * 100003 - 3000000, mult[i] = 1300000000 + i, shift[i] = -7 - i % 4;
  per_unit = calibrate();
  bm_puts("bench calibration: ");
  say_milli(per_unit);
  bm_puts(" ticks per instruction\n");
  bench_dot("dot_s8 n=16", 16, 2000);
  bench_dot("dot_s8 n=64", 64, 1000);
  bench_dot("dot_s8 n=256", 256, 500);
  bench_dot("dot_s8 n=1024", 1024, 100);
  bench_dot("dot_s8 n=27", 27, 2000);
  bench_dot_x4("dot_s8_x4 n=64", 64, 500);
  bench_dot_x4("dot_s8_x4 n=256", 256, 200);
  bench_dw("dw_mac_s8 3x3 c=64", 64, 200);
  bench_dw("dw_mac_s8 3x3 c=8", 8, 1000);
  bench_requant("requant_s8_n n=64", 64, 500);
  return 0;
}
