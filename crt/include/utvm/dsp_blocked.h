/*
 * Register-blocked int8 micro-kernels (header-only): whole 1x1-convolution / fully-connected layers
 * as matrix products and depthwise convolutions, with TFLite Micro's requantization fused in each
 * tile's epilogue (utvm/requant.h, bit-exact with MultiplyByQuantizedMultiplier).
 *
 * Matrix product (utvm_blk_matmul_s8): out[p, c] = requant(bias[c] + sum_k in[p, k] * w[c, k]) for
 * pixels p (rows of `in`, K int8 each) and output channels c (rows of `w`, OHWI with 1x1 taps or a
 * fully-connected [units, K]). Two pixel rows are widened to int16 once (utvm_blk_widen_s8: each
 * group of four bytes b0 b1 b2 b3 stored as b0 b2 b1 b3, the order SXTB16 and SXTB16 ROR #8 give;
 * on the SMLAD path 256 b0, 256 b2, b1, b3: utvm/dsp_blocked_smlad.h), then tiles of 2 output
 * channels x 2 pixels run four accumulators started from the bias: per four k, four word loads of
 * the widened inputs, two of weights, two SXTB16 and two AND, eight SMLAD (16 MACs). The weights
 * stay in their file order: the widened inputs are what is reordered, so no PKHBT. One pixel (fully
 * connected layers) runs tiles of 1 x 4. Requantization on the SMLAD path: utvm/dsp_blocked_rq.h. On
 * Thumb-2 the tile's loop is asm (utvm/dsp_blocked_smlad.h), and rows on the short path with the whole
 * int8 range run every channel pair in one asm function (utvm/dsp_blocked_row.h).
 *
 * Depthwise (utvm_blk_dw_s8, utvm_blk_dw3x3_s8; utvm/dsp_blocked_dw.h): NHWC, depth multiplier 1,
 * any stride, dilation and padding; four channels per pass (SXTB16, SMLABB/SMLATT), taps outside
 * the input read a row of the input zero point (the bias has the input offset folded in). 3x3 at
 * dilation 1 (utvm/dsp_blocked_dw3x3.h): one channel at a time on a zero-point-padded int8 plane.
 *
 * utvm/dsp_blocked_dw.h has the depthwise kernels, utvm/dsp_blocked_layers.h general convolutions and
 * the entry points generated kernels call.
 *
 * Paths: Helium on cores with MVE (Cortex-M55, M85: utvm/dsp_blocked_mve.h, int8 rows and VMLADAVA,
 * vector requantization), SMLAD on the other cores with the DSP extension (__ARM_FEATURE_DSP:
 * Cortex-M4, M7, M33), SMLAL tiles on Thumb-2 cores without it (Cortex-M3: utvm/dsp_blocked_smlal.h,
 * the pixel pair packed as one int32 per k instead of the int16 pairs), the same blocking in portable
 * C elsewhere (the host); int32 sums wrap as SMLAD's do, so all paths give identical bits (defining
 * UTVM_BLK_PORTABLE forces the portable path: the tests compare them). No input offset is added
 * anywhere: callers fold it into the bias.
 */
#ifndef UTVM_DSP_BLOCKED_H_
#define UTVM_DSP_BLOCKED_H_

#include <stdint.h>
#include <string.h>

#include "utvm/requant.h"

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(UTVM_BLK_PORTABLE)
#include <arm_acle.h>
#define UTVM_BLK_SIMD 1
#else
#define UTVM_BLK_SIMD 0
#endif
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1) && !defined(UTVM_BLK_PORTABLE)
#define UTVM_BLK_MVE 1 /* the Helium path (utvm/dsp_blocked_mve.h) replaces the SMLAD one */
#else
#define UTVM_BLK_MVE 0
#endif
/* Thumb-2 without the DSP extension (Cortex-M3): the SMLAL tiles of utvm/dsp_blocked_smlal.h. */
#if !UTVM_BLK_SIMD && !UTVM_BLK_MVE && defined(__thumb2__) && defined(__GNUC__) && !defined(UTVM_BLK_PORTABLE)
#define UTVM_BLK_SMLAL 1
#else
#define UTVM_BLK_SMLAL 0
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The int32 whose two's-complement bits are u. */
static inline int32_t utvm_blk_s32(uint32_t u) {
  return u <= (uint32_t)INT32_MAX ? (int32_t)u : (int32_t)(u - 2147483648u) - INT32_MAX - 1;
}

/* Four bytes (or two int16) from any address. */
static inline uint32_t utvm_blk_ld32(const void* p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

#if UTVM_BLK_SIMD
static inline int32_t utvm_blk_even(uint32_t v) { return __sxtb16(utvm_blk_s32(v)); }
static inline int32_t utvm_blk_odd(uint32_t v) { return __sxtb16(utvm_blk_s32((v >> 8) | (v << 24))); }
#endif
#ifdef __cplusplus
}
#endif
#include "utvm/dsp_blocked_smlad.h" /* the SMLAD inner loops */
#include "utvm/dsp_blocked_smlal.h" /* the SMLAL tiles (no DSP extension) */
#ifdef __cplusplus
extern "C" {
#endif

/* src[0..n) widened to int16 in dst, each full group of four in SXTB16 order (b0 b2 b1 b3; on the
 * SMLAD path scaled: utvm_blk_widen4), the last n % 4 in order. */
static inline void utvm_blk_widen_s8(const int8_t* src, int32_t n, int16_t* dst) {
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
#if UTVM_BLK_SIMD
    utvm_blk_widen4(src + i, dst + i);
#else
    dst[i] = src[i], dst[i + 1] = src[i + 2], dst[i + 2] = src[i + 1], dst[i + 3] = src[i + 3];
#endif
  }
  for (; i < n; ++i) dst[i] = src[i];
}

/* Products as the wrapping uint32 sums add them. */
static inline uint32_t utvm_blk_mul(int32_t a, int32_t b) { return (uint32_t)(a * b); }

/* One widened group of four against four weights (portable twin of two SMLAD). */
static inline uint32_t utvm_blk_dot4(const int16_t* a, const int8_t* w) {
  return utvm_blk_mul(a[0], w[0]) + utvm_blk_mul(a[1], w[2]) + utvm_blk_mul(a[2], w[1]) +
         utvm_blk_mul(a[3], w[3]);
}

/* n (a multiple of 4 when n < k) bytes of two rows of length k widened and interleaved in dst as
 * utvm_blk_widen_pair_s8 lays out the whole rows (the scaling is the rows' length's). */
static inline void utvm_blk_widen_pair_part(const int8_t* src0, const int8_t* src1, int32_t n, int16_t* dst) {
#if UTVM_BLK_SMLAL
  utvm_blk_smlal_pack(src0, src1, n, dst); /* one int32 per k instead */
  return;
#endif
  int32_t i = 0;
  for (; i + 4 <= n; i += 4, dst += 8) {
#if UTVM_BLK_SIMD
    utvm_blk_widen4(src0 + i, dst), utvm_blk_widen4(src1 + i, dst + 4);
#else
    utvm_blk_widen_s8(src0 + i, 4, dst), utvm_blk_widen_s8(src1 + i, 4, dst + 4);
#endif
  }
  for (; i < n; ++i, dst += 2) dst[0] = src0[i], dst[1] = src1[i];
}

/* Two rows src0, src1 widened and interleaved in dst (2 * n int16), one pointer for the 2x2 tile: per
 * full group of four, row 0's four then row 1's four, each as utvm_blk_widen_s8 has it; then the
 * last n % 4 pairs (row 0, row 1) in order. */
static inline void utvm_blk_widen_pair_s8(const int8_t* src0, const int8_t* src1, int32_t n, int16_t* dst) {
  utvm_blk_widen_pair_part(src0, src1, n, dst);
}

/* The 2x2 tile: acc[2 * p + c] += sum_k a_p[k] * w_c[k], a the pair of widened pixel rows of
 * utvm_blk_widen_pair_s8, w_c int8 rows. Per four k: four input words from one pointer, two weight
 * words, four SXTB16, eight SMLAD. */
static inline void utvm_blk_mac_2x2(const int16_t* a, const int8_t* w0, const int8_t* w1, int32_t k,
                                    int32_t* acc) {
#if UTVM_BLK_SMLAL
  utvm_blk_smlal_2x2(a, w0, w1, k, acc); /* the packed pair: utvm/dsp_blocked_smlal.h */
  return;
#endif
  int32_t i = 0;
#if UTVM_BLK_SIMD
  utvm_blk_smlad_2x2(a, w0, w1, k, acc); /* utvm/dsp_blocked_smlad.h */
  i = k & ~3, a += 2 * i;
  uint32_t u00 = (uint32_t)acc[0], u01 = (uint32_t)acc[1], u10 = (uint32_t)acc[2], u11 = (uint32_t)acc[3];
#else
  uint32_t u00 = (uint32_t)acc[0], u01 = (uint32_t)acc[1], u10 = (uint32_t)acc[2], u11 = (uint32_t)acc[3];
  for (; i + 4 <= k; i += 4, a += 8) {
    u00 += utvm_blk_dot4(a, w0 + i), u01 += utvm_blk_dot4(a, w1 + i);
    u10 += utvm_blk_dot4(a + 4, w0 + i), u11 += utvm_blk_dot4(a + 4, w1 + i);
  }
#endif
  for (; i < k; ++i, a += 2) {
    u00 += utvm_blk_mul(a[0], w0[i]), u01 += utvm_blk_mul(a[0], w1[i]);
    u10 += utvm_blk_mul(a[1], w0[i]), u11 += utvm_blk_mul(a[1], w1[i]);
  }
  acc[0] = utvm_blk_s32(u00), acc[1] = utvm_blk_s32(u01), acc[2] = utvm_blk_s32(u10), acc[3] = utvm_blk_s32(u11);
}

/* The requantization of a layer: output zero point, activation range, one multiplier and shift per
 * channel (per_channel = 1) or mult[0], shift[0] for all (0). Shifts (-31..31) are stored in a byte. */
typedef struct {
  const int32_t* mult;
  const int8_t* shift;
  int32_t per_channel, out_zp, act_min, act_max;
} utvm_blk_rq_t;

/* utvm_requant_s8 in fewer instructions, same bits (blocked_check.c compares them). gemmlowp's
 * SaturatingRoundingDoublingHighMul adds 2^30 (ab >= 0) or 1 - 2^30 (ab < 0) and divides by 2^31
 * truncating toward zero; for ab < 0 that is ceil((ab + 1 - 2^30) / 2^31) = floor((ab + 2^30) / 2^31),
 * so both cases are (ab + 2^30) >> 31 (round half up): SMULL, a 64-bit add, a shift, no division. */
static inline int32_t utvm_blk_srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  int64_t ab = (int64_t)a * (int64_t)b + ((int64_t)1 << 30);
  return (int32_t)(ab >> 31); /* arithmetic shift (GCC, Clang); |ab| < 2^62: fits after it */
}

static inline int32_t utvm_blk_requant_s32(int32_t acc, int32_t mult, int32_t shift) {
  uint32_t up = (uint32_t)acc << (shift > 0 ? shift : 0);
  return utvm_rounding_divide_by_pot(utvm_blk_srdhm(utvm_blk_s32(up), mult), shift > 0 ? 0 : -shift);
}

static inline int8_t utvm_blk_requant(const utvm_blk_rq_t* rq, int32_t acc, int32_t c) {
  int32_t i = rq->per_channel ? c : 0;
  int32_t v = utvm_blk_requant_s32(acc, rq->mult[i], rq->shift[i]) + rq->out_zp;
  v = v < rq->act_min ? rq->act_min : v;
  return (int8_t)(v > rq->act_max ? rq->act_max : v);
}

/* A layer's requantization as the SMLAD tiles' epilogue reads it (utvm/dsp_blocked_rq.h): the
 * channel stride of mult and shift (1 per channel, 0 per tensor), the activation range in four bytes,
 * and whether every channel takes the short path. */
typedef struct {
  const int32_t* mult;
  const int8_t* shift;
  int32_t step, out_zp, fast, full; /* full: the activation range is all of int8 (no clamp after SSAT) */
  uint32_t lo4, hi4;
} utvm_blk_frq_t;

static inline utvm_blk_frq_t utvm_blk_frq(const utvm_blk_rq_t* rq, int32_t channels) {
  utvm_blk_frq_t f = {rq->mult, rq->shift, rq->per_channel ? 1 : 0, rq->out_zp, 1,
                      rq->act_min == -128 && rq->act_max == 127, (uint32_t)(uint8_t)rq->act_min * 0x01010101u,
                      (uint32_t)(uint8_t)rq->act_max * 0x01010101u};
  for (int32_t c = 0; c < (f.step ? channels : 1); ++c) { /* utvm/dsp_blocked_rq.h's short path */
    f.fast &= rq->mult[c] == 0 || (rq->mult[c] >= (1 << 30) && rq->shift[c] <= -2);
  }
  return f;
}

#ifdef __cplusplus
}
#endif
#include "utvm/dsp_blocked_mve.h"
#include "utvm/dsp_blocked_rq.h" /* the SMLAD path's epilogue */
#include "utvm/dsp_blocked_row.h" /* a pixel pair's channel pairs in one asm function */
#include "utvm/dsp_blocked_fc.h" /* one pixel without scratch */
#ifdef __cplusplus
extern "C" {
#endif

/* Two pixel rows (a: utvm_blk_widen_pair_s8's pair) against every output channel (2 x 2 tiles),
 * requantized; an odd last channel through the portable pair loop. */
static inline void utvm_blk_matmul_rows(const int16_t* a, const int8_t* w, int32_t k, const int32_t* bias,
                                        int32_t channels, const utvm_blk_rq_t* rq, const utvm_blk_frq_t* f,
                                        int8_t* out0, int8_t* out1) {
  (void)f; /* (the portable path's epilogue is utvm_blk_requant) */
  /* (Called out of line, e.g. through a volatile pointer, the tile's inner loop keeps its sums in
   * registers: 2.3 instead of 3.1 instructions per MAC in blocked_bench.c; but in the models, where the
   * shapes are constants GCC propagates into the inlined tile, inlining wins: kws01 7.59 M against 8.20 M.) */
  int32_t c = 0;
#if UTVM_BLK_SIMD && defined(__thumb2__) && defined(__GNUC__)
  if (utvm_blk_row_fits(f, k, channels)) c = utvm_blk_row_2x2(a, w, k, bias, channels, f, out0, out1);
#endif
#if UTVM_BLK_SMLAL
  if (f->fast && f->full && f->step == 1 && channels >= 2) {
    c = utvm_blk_smlal_row(a, w, k, bias, channels, f->mult, f->shift, f->out_zp, out0, out1);
  }
#endif
  for (; c + 2 <= channels; c += 2) {
    int32_t acc[4] = {bias[c], bias[c + 1], bias[c], bias[c + 1]};
    utvm_blk_mac_2x2(a, w + c * k, w + (c + 1) * k, k, acc);
#if UTVM_BLK_SIMD
    utvm_blk_rq_2x2(rq, f, c, acc, out0, out1);
#else
    out0[c] = utvm_blk_requant(rq, acc[0], c), out0[c + 1] = utvm_blk_requant(rq, acc[1], c + 1);
    out1[c] = utvm_blk_requant(rq, acc[2], c), out1[c + 1] = utvm_blk_requant(rq, acc[3], c + 1);
#endif
  }
  if (c < channels) {
    int32_t acc[4] = {bias[c], bias[c], bias[c], bias[c]};
    utvm_blk_mac_2x2(a, w + c * k, w + c * k, k, acc);
    out0[c] = utvm_blk_requant(rq, acc[0], c), out1[c] = utvm_blk_requant(rq, acc[2], c);
  }
}

/* A 1x1 convolution (stride 1, no padding) or fully-connected layer: in [pixels, k] int8, w
 * [channels, k] int8, bias [channels] int32 (input offset folded in), out [pixels, channels] int8.
 * scratch: 2 * k int16 (the two widened pixel rows; unused for one pixel: utvm_blk_fc_s8). */
static inline void utvm_blk_matmul_s8(const int8_t* in, int32_t pixels, int32_t k, const int8_t* w,
                                      int32_t channels, const int32_t* bias, const utvm_blk_rq_t* rq,
                                      int16_t* scratch, int8_t* out) {
  int32_t p = 0;
#if UTVM_BLK_MVE
  (void)scratch; /* the int8 rows are used as they are */
  for (; p + 2 <= pixels; p += 2) {
    utvm_blk_mve_rows(in + p * k, in + (p + 1) * k, w, k, bias, channels, rq, out + p * channels,
                      out + (p + 1) * channels);
  }
  if (p < pixels) utvm_blk_mve_row(in + p * k, w, k, bias, channels, rq, out + p * channels);
#else
  const utvm_blk_frq_t f = utvm_blk_frq(rq, channels);
  for (; p + 2 <= pixels; p += 2) {
    utvm_blk_widen_pair_s8(in + p * k, in + (p + 1) * k, k, scratch);
    utvm_blk_matmul_rows(scratch, w, k, bias, channels, rq, &f, out + p * channels, out + (p + 1) * channels);
  }
  if (p < pixels) utvm_blk_fc_s8(in + p * k, k, w, channels, bias, rq, out + p * channels);
#endif
}

#ifdef __cplusplus
}
#endif
#endif /* UTVM_DSP_BLOCKED_H_ */
