/*
 * Helium (MVE) versions of utvm/dsp.h's int8 micro-kernels, for cores with the M-profile Vector
 * Extension (Cortex-M55, M85: __ARM_FEATURE_MVE bit 0). utvm/dsp.h includes this header there
 * instead of defining its SMLAD and portable versions; signatures and results are the same, bit for
 * bit (int32 sums wrap on overflow: VMLADAVA accumulates modulo 2^32, as SMLAD and the portable loop
 * do). Include utvm/dsp.h, not this header; on its own, elsewhere, it defines nothing.
 *
 * - Dot products: 16 int8 pairs per VMLADAVA; the last n % 16 elements are one tail-predicated step
 *   (VCTP.8 and zeroing loads, which read no byte past the operands). The _x2/_x4 variants load each
 *   16 bytes of `a` once for all their rows and keep their 2 or 4 sums in core registers.
 * - Depthwise MAC: 16 channels per int8 vector per tap (VMULLB/VMULLT into int16, VMOVLB/VMOVLT into
 *   four int32 accumulators kept in registers over all taps); the last channels % 16 are one
 *   predicated pass.
 * As in dsp.h, no input or weight offset is applied: callers fold the input zero point into the bias.
 */
#ifndef UTVM_DSP_MVE_H_
#define UTVM_DSP_MVE_H_

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline int32_t utvm_dot_s8(const int8_t* a, const int8_t* b, int32_t n, int32_t acc) {
  int32_t i = 0;
  for (; i + 16 <= n; i += 16) acc = vmladavaq_s8(acc, vldrbq_s8(a + i), vldrbq_s8(b + i));
  if (i < n) {
    mve_pred16_t p = vctp8q((uint32_t)(n - i));
    acc = vmladavaq_s8(acc, vldrbq_z_s8(a + i, p), vldrbq_z_s8(b + i, p));
  }
  return acc;
}

static inline void utvm_dot_s8_x2(const int8_t* a, const int8_t* b, int32_t b_stride, int32_t n,
                                  int32_t* acc) {
  const int8_t* b1 = b + b_stride;
  int32_t s0 = acc[0], s1 = acc[1], i = 0;
  for (; i + 16 <= n; i += 16) {
    int8x16_t va = vldrbq_s8(a + i);
    s0 = vmladavaq_s8(s0, va, vldrbq_s8(b + i));
    s1 = vmladavaq_s8(s1, va, vldrbq_s8(b1 + i));
  }
  if (i < n) {
    mve_pred16_t p = vctp8q((uint32_t)(n - i));
    int8x16_t va = vldrbq_z_s8(a + i, p); /* zero lanes: the rows' zeroed lanes add nothing */
    s0 = vmladavaq_s8(s0, va, vldrbq_z_s8(b + i, p));
    s1 = vmladavaq_s8(s1, va, vldrbq_z_s8(b1 + i, p));
  }
  acc[0] = s0;
  acc[1] = s1;
}

static inline void utvm_dot_s8_x4(const int8_t* a, const int8_t* b, int32_t b_stride, int32_t n,
                                  int32_t* acc) {
  const int8_t* b1 = b + b_stride;
  const int8_t* b2 = b1 + b_stride;
  const int8_t* b3 = b2 + b_stride;
  int32_t s0 = acc[0], s1 = acc[1], s2 = acc[2], s3 = acc[3], i = 0;
  for (; i + 16 <= n; i += 16) {
    int8x16_t va = vldrbq_s8(a + i);
    s0 = vmladavaq_s8(s0, va, vldrbq_s8(b + i));
    s1 = vmladavaq_s8(s1, va, vldrbq_s8(b1 + i));
    s2 = vmladavaq_s8(s2, va, vldrbq_s8(b2 + i));
    s3 = vmladavaq_s8(s3, va, vldrbq_s8(b3 + i));
  }
  if (i < n) {
    mve_pred16_t p = vctp8q((uint32_t)(n - i));
    int8x16_t va = vldrbq_z_s8(a + i, p);
    s0 = vmladavaq_s8(s0, va, vldrbq_z_s8(b + i, p));
    s1 = vmladavaq_s8(s1, va, vldrbq_z_s8(b1 + i, p));
    s2 = vmladavaq_s8(s2, va, vldrbq_z_s8(b2 + i, p));
    s3 = vmladavaq_s8(s3, va, vldrbq_z_s8(b3 + i, p));
  }
  acc[0] = s0;
  acc[1] = s1;
  acc[2] = s2;
  acc[3] = s3;
}

/* The taps of utvm_mve_dw16 into its four accumulators; operand bytes under p when `predicated`
 * (a constant at each call: a full group of 16 channels loads without predication). */
static inline void utvm_mve_dw_taps(const int8_t* in, int32_t in_col, int32_t in_row, const int8_t* w,
                                    int32_t w_col, int32_t w_row, int32_t kh, int32_t kw,
                                    int32x4_t* a0, int32x4_t* a1, int32x4_t* a2, int32x4_t* a3,
                                    mve_pred16_t p, int predicated) {
  int32x4_t s0 = *a0, s1 = *a1, s2 = *a2, s3 = *a3;
  /* Rolled: 4 accumulators, 2 operands and 2 products fill the 8 vector registers; GCC's complete
   * unrolling of a 3x3 kernel interleaves the taps and spills (2.1 instructions per MAC, not 1). */
#pragma GCC unroll 1
  for (int32_t y = 0; y < kh; ++y, in += in_row, w += w_row) {
    const int8_t* pi = in;
    const int8_t* pw = w;
#pragma GCC unroll 1
    for (int32_t x = 0; x < kw; ++x, pi += in_col, pw += w_col) {
      int8x16_t vi = predicated ? vldrbq_z_s8(pi, p) : vldrbq_s8(pi);
      int8x16_t vw = predicated ? vldrbq_z_s8(pw, p) : vldrbq_s8(pw);
      int16x8_t even = vmullbq_int_s8(vi, vw), odd = vmulltq_int_s8(vi, vw); /* |product| <= 2^14 */
      s0 = vaddq_s32(s0, vmovlbq_s16(even));
      s1 = vaddq_s32(s1, vmovlbq_s16(odd));
      s2 = vaddq_s32(s2, vmovltq_s16(even));
      s3 = vaddq_s32(s3, vmovltq_s16(odd));
    }
  }
  *a0 = s0;
  *a1 = s1;
  *a2 = s2;
  *a3 = s3;
}

/* 16 channels starting at in/w/acc over every tap (see utvm_dw_mac_s8). The products of one tap are
 * VMULLB/VMULLT (int16, even and odd channels), widened by VMOVLB/VMOVLT: accumulator j lane i holds
 * channel 4i + j, read and written by gathers and scatters at acc + j + 4i. */
static inline void utvm_mve_dw16(const int8_t* in, int32_t in_col, int32_t in_row, const int8_t* w,
                                 int32_t w_col, int32_t w_row, int32_t kh, int32_t kw, int32_t* acc) {
  uint32x4_t lanes = vidupq_n_u32(0, 4); /* 0, 4, 8, 12 */
  int32x4_t s0 = vldrwq_gather_shifted_offset_s32(acc, lanes);
  int32x4_t s1 = vldrwq_gather_shifted_offset_s32(acc + 1, lanes);
  int32x4_t s2 = vldrwq_gather_shifted_offset_s32(acc + 2, lanes);
  int32x4_t s3 = vldrwq_gather_shifted_offset_s32(acc + 3, lanes);
  utvm_mve_dw_taps(in, in_col, in_row, w, w_col, w_row, kh, kw, &s0, &s1, &s2, &s3, 0, 0);
  vstrwq_scatter_shifted_offset_s32(acc, lanes, s0);
  vstrwq_scatter_shifted_offset_s32(acc + 1, lanes, s1);
  vstrwq_scatter_shifted_offset_s32(acc + 2, lanes, s2);
  vstrwq_scatter_shifted_offset_s32(acc + 3, lanes, s3);
}

/* utvm_mve_dw16 for the first `count` (1..15) of the 16 channels: input and weight bytes past count
 * are predicated off (not read); the accumulators go through a local tile of 16, so no lane past
 * count is read or written. (Predicated gathers and scatters straight on acc gave a wrong channel 4
 * of 6 under QEMU's Cortex-M55, found by `utvm fuzz --schedules mve`: tests/fuzz_regressions.) */
static inline void utvm_mve_dw16_tail(const int8_t* in, int32_t in_col, int32_t in_row, const int8_t* w,
                                      int32_t w_col, int32_t w_row, int32_t kh, int32_t kw,
                                      int32_t* acc, int32_t count) {
  int32_t tile[16] = {0};
  for (int32_t c = 0; c < count; ++c) tile[c] = acc[c];
  uint32x4_t lanes = vidupq_n_u32(0, 4);
  int32x4_t s0 = vldrwq_gather_shifted_offset_s32(tile, lanes);
  int32x4_t s1 = vldrwq_gather_shifted_offset_s32(tile + 1, lanes);
  int32x4_t s2 = vldrwq_gather_shifted_offset_s32(tile + 2, lanes);
  int32x4_t s3 = vldrwq_gather_shifted_offset_s32(tile + 3, lanes);
  utvm_mve_dw_taps(in, in_col, in_row, w, w_col, w_row, kh, kw, &s0, &s1, &s2, &s3, vctp8q((uint32_t)count), 1);
  vstrwq_scatter_shifted_offset_s32(tile, lanes, s0);
  vstrwq_scatter_shifted_offset_s32(tile + 1, lanes, s1);
  vstrwq_scatter_shifted_offset_s32(tile + 2, lanes, s2);
  vstrwq_scatter_shifted_offset_s32(tile + 3, lanes, s3);
  for (int32_t c = 0; c < count; ++c) acc[c] = tile[c];
}

static inline void utvm_dw_mac_s8(const int8_t* in, int32_t in_col, int32_t in_row, const int8_t* w,
                                  int32_t w_col, int32_t w_row, int32_t kh, int32_t kw,
                                  int32_t channels, int32_t* acc) {
  int32_t c = 0;
  for (; c + 16 <= channels; c += 16) {
    utvm_mve_dw16(in + c, in_col, in_row, w + c, w_col, w_row, kh, kw, acc + c);
  }
  if (c < channels) {
    utvm_mve_dw16_tail(in + c, in_col, in_row, w + c, w_col, w_row, kh, kw, acc + c, channels - c);
  }
}

#ifdef __cplusplus
}
#endif
#endif /* __ARM_FEATURE_MVE */
#endif /* UTVM_DSP_MVE_H_ */
