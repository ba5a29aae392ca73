/* Instructions per multiply-accumulate of utvm/dsp_blocked.h's whole layers (widening, tiles and the
 * fused requantization included), bare-metal under QEMU -icount as kernel_bench.c measures: SysTick
 * counts virtual time, a SUBS/BNE loop of known length calibrates ticks per instruction. Shapes of
 * the MLPerf Tiny models' layers, and kws01's through the entry points with literal shapes. Prints
 * "bench NAME: X.XXX instructions per MAC (PATH)". */
#include <stdint.h>

#include "bm.h"
#include "say.h"
#include "utvm/dsp_blocked_layers.h"

#define BARRIER() __asm volatile("" ::: "memory")

static int8_t in[32 * 32 * 32], w[64 * 256] __attribute__((aligned(8))), out[32 * 32 * 32]; /* w: LDM */
static int32_t bias[256], mult[256];
static int8_t shift[256];
static _Alignas(4) int16_t scratch[2 * 256]; /* the tiles read it with LDM */
static int8_t zp_row[1024]; /* UTVM_BLK_DW_SCRATCH of the largest layer here */


static uint32_t elapsed(uint32_t start) { return (start - bm_ticks()) & 0xFFFFFFu; }
static uint64_t per_unit; /* ticks per 1000 instructions */

static void report(const char* name, uint32_t ticks, uint32_t macs) {
  bm_puts("bench ");
  bm_puts(name);
  bm_puts(": ");
  say_milli((uint64_t)ticks * 1000000u / per_unit / macs);
  bm_puts(UTVM_BLK_MVE ? " instructions per MAC (Helium)\n"
          : UTVM_BLK_SIMD ? " instructions per MAC (SMLAD)\n"
          : UTVM_BLK_SMLAL ? " instructions per MAC (SMLAL)\n" : " instructions per MAC (portable)\n");
}

static const utvm_blk_rq_t RQ = {mult, shift, 1, -3, -128, 127};

static void bench_matmul(const char* name, int32_t pixels, int32_t k, int32_t channels) {
  uint32_t t0 = bm_ticks();
  utvm_blk_matmul_s8(in, pixels, k, w, channels, bias, &RQ, scratch, out);
  BARRIER();
  report(name, elapsed(t0), (uint32_t)(pixels * k * channels));
}

static void bench_dw(const char* name, int32_t h, int32_t wd, int32_t c, int32_t stride, int three) {
  utvm_blk_dw_shape_t s = {h, wd, c, 3, 3, stride, stride, 1, 1, 1, 1, (h - 1) / stride + 1, (wd - 1) / stride + 1, -7};
  uint32_t t0 = bm_ticks();
  if (three) {
    utvm_blk_dw3x3_s8(in, w, bias, &s, &RQ, zp_row, out);
  } else {
    utvm_blk_dw_s8(in, w, bias, &s, &RQ, zp_row, out);
  }
  BARRIER();
  report(name, elapsed(t0), (uint32_t)(s.out_h * s.out_w * c * 9));
}

/* kws01's pointwise and depthwise layers through the entry points with literal shapes, as the
 * generated kernels call them (GCC propagates the constants into the inlined tiles). */
static void bench_kws01_calls(void) {
  uint32_t t0 = bm_ticks();
  utvm_blk_matmul_call(in, w, bias, mult, shift, scratch, out, 125, 64, 64, 1, -3, -128, 127);
  BARRIER();
  report("kws01 pointwise call (literal shapes)", elapsed(t0), 125u * 64u * 64u);
  t0 = bm_ticks();
  utvm_blk_dw_call(in, w, bias, mult, shift, zp_row, out, 25, 5, 64, 3, 3, 1, 1, 1, 1, 1, 1, 25, 5, -7, -3, -128, 127);
  BARRIER();
  report("kws01 depthwise call (literal shapes)", elapsed(t0), 125u * 64u * 9u);
}

/* One of ad01's batch-1 layers through the entry point, packed weights on the SMLAD path
 * (utvm/dsp_blocked_fcp.h; the bytes do not change the count), per-tensor requantization. */
static void bench_ad01_call(void) {
  uint32_t t0 = bm_ticks();
  utvm_blk_fc_call(in, w, bias, mult, shift, out, 128, 128, 0, -128, -128, 127, 1);
  BARRIER();
  report("ad01 fully connected call k=128 c=128 (literal shapes, packed)", elapsed(t0), 128u * 128u);
}

int main(void) {
  for (uint32_t i = 0; i < sizeof in; ++i) in[i] = (int8_t)(i * 29 + 3);
  for (uint32_t i = 0; i < sizeof w; ++i) w[i] = (int8_t)(i * 13 + 1);
  for (int i = 0; i < 256; ++i) bias[i] = i * 1003 - 30000, mult[i] = 1300000000 + i, shift[i] = (int8_t)(-7 - i % 4);
  const uint32_t n = 200000;
  uint32_t t0 = bm_ticks();
  bm_spin(n);
  per_unit = (uint64_t)elapsed(t0) * 1000u / (2u * n + 1u);
  bench_matmul("matmul 1x1 conv 25x5 pixels k=64 c=64 (kws01)", 125, 64, 64);
  bench_matmul("matmul 1x1 conv 8x8 pixels k=32 c=64", 64, 32, 64);
  bench_matmul("matmul fully connected k=256 c=64", 1, 256, 64);
  bench_matmul("matmul fully connected k=640 c=12", 1, 640, 12);
  bench_dw("dw3x3 25x5 c=64 (kws01)", 25, 5, 64, 1, 1);
  bench_dw("dw general 3x3 25x5 c=64", 25, 5, 64, 1, 0);
  bench_dw("dw3x3 24x24 c=32 stride 2", 24, 24, 32, 2, 1);
  bench_kws01_calls();
  bench_ad01_call();
  return 0;
}
