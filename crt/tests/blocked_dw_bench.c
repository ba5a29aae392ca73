/* Instructions per layer of the MLPerf Tiny models' depthwise layers (kws01, vww01) through
 * UTVM_BLK_DW_CALL with literal shapes, as the generated kernels call them, bare-metal under QEMU
 * -icount as blocked_bench.c counts (the requantization as the models have it: multipliers in
 * [2^30, 2^31), zero points -128, ReLU's range). Prints "dw NAME: N instructions, X.XXX per MAC", then vww01's layers together. */
#include <stdint.h>

#include "bm.h"
#include "say.h"
#include "utvm/dsp_blocked_layers.h"

#define BARRIER() __asm volatile("" ::: "memory")

static int8_t in[48 * 48 * 16], w[9 * 128], out[48 * 48 * 8];
static int32_t bias[128], mult[128];
static int8_t shift[128];
static int8_t zp_row[1024]; /* UTVM_BLK_DW_SCRATCH of the largest layer here */

static uint32_t elapsed(uint32_t start) { return (start - bm_ticks()) & 0xFFFFFFu; }
static uint64_t per_unit; /* ticks per 1000 instructions */

static uint64_t vww_n, vww_macs; /* vww01's layers together */

static void say_count(const char* name, uint64_t n, uint64_t macs) {
  say("dw ");
  say(name);
  say(": ");
  say_int((int64_t)n);
  say(" instructions, ");
  say_milli(n * 1000u / macs);
  say(" per MAC\n");
}

static void report(const char* name, uint32_t ticks, uint32_t macs) {
  const uint64_t n = (uint64_t)ticks * 1000u / per_unit;
  if (name[0] == 'v') vww_n += n, vww_macs += macs;
  say_count(name, n, macs);
}

/* One layer, as its own function (as in the generated kernels, where GCC specialises each call):
 * h x wd x c input, stride s, padding 1 at stride 1 (SAME), 0 at stride 2 (TFLite's SAME on even
 * sizes pads only the end). */
#define LAYER(fn, name, h, wd, c, s)                                                                  \
  static void fn(void) {                                                                             \
    const int32_t oh = (h) / (s), ow = (wd) / (s), pad = (s) == 1;                                   \
    uint32_t t0 = bm_ticks();                                                                        \
    UTVM_BLK_DW_CALL(in, w, bias, mult, shift, zp_row, out, h, wd, c, 3, 3, s, s, 1, 1, pad, pad, oh, ow, \
                     -128, -128, -128, 127);                                                         \
    BARRIER();                                                                                       \
    report(name, elapsed(t0), (uint32_t)(oh * ow * (c) * 9));                                        \
  }

LAYER(kws01_dw, "kws01 25x5x64", 25, 5, 64, 1)
LAYER(vww01_dw1, "vww01 48x48x8", 48, 48, 8, 1)
LAYER(vww01_dw3, "vww01 48x48x16 s2", 48, 48, 16, 2)
LAYER(vww01_dw5, "vww01 24x24x32", 24, 24, 32, 1)
LAYER(vww01_dw7, "vww01 24x24x32 s2", 24, 24, 32, 2)
LAYER(vww01_dw9, "vww01 12x12x64", 12, 12, 64, 1)
LAYER(vww01_dw11, "vww01 12x12x62 s2", 12, 12, 62, 2)
LAYER(vww01_dw13, "vww01 6x6x114", 6, 6, 114, 1)
LAYER(vww01_dw15, "vww01 6x6x74", 6, 6, 74, 1)
LAYER(vww01_dw17, "vww01 6x6x41", 6, 6, 41, 1)
LAYER(vww01_dw19, "vww01 6x6x31", 6, 6, 31, 1)
LAYER(vww01_dw21, "vww01 6x6x42", 6, 6, 42, 1)
LAYER(vww01_dw23, "vww01 6x6x60 s2", 6, 6, 60, 2)
LAYER(vww01_dw25, "vww01 3x3x80", 3, 3, 80, 1)

static void (*const volatile layers[])(void) = {kws01_dw,   vww01_dw1,  vww01_dw3,  vww01_dw5,  vww01_dw7,
                                                 vww01_dw9,  vww01_dw11, vww01_dw13, vww01_dw15, vww01_dw17,
                                                 vww01_dw19, vww01_dw21, vww01_dw23, vww01_dw25};

int main(void) {
  for (uint32_t i = 0; i < sizeof in; ++i) in[i] = (int8_t)(i * 29 + 3);
  for (uint32_t i = 0; i < sizeof w; ++i) w[i] = (int8_t)(i * 13 + 1);
  for (int i = 0; i < 128; ++i) bias[i] = i * 1003 - 30000, mult[i] = 1100000000 + i * 7000000, shift[i] = (int8_t)(-6 - i % 5);
  const uint32_t n = 200000;
  uint32_t t0 = bm_ticks();
  bm_spin(n);
  per_unit = (uint64_t)elapsed(t0) * 1000u / (2u * n + 1u);
  for (uint32_t i = 0; i < sizeof layers / sizeof layers[0]; ++i) layers[i]();
  say_count("vww01 all layers", vww_n, vww_macs);
  return 0;
}
