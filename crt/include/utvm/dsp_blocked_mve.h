/*
 * The Helium (MVE) path of utvm/dsp_blocked.h's layers (included from there; see its comment), for
 * cores with the M-profile Vector Extension (Cortex-M55, M85: __ARM_FEATURE_MVE bit 0). Same API and
 * the same bits as the SMLAD and portable paths (int32 sums wrap: VMLADAVA and VADD add modulo 2^32;
 * the vector requantization of utvm/requant.h is TFLite Micro's double rounding exactly).
 *
 * Matrix product (1x1 convolution, fully connected, the gathered windows of a general convolution):
 * the int8 rows are used as they are, no widening. Tiles of 4 output channels x 2 pixels, computed as
 * two 2 x 2 passes over K (VMLADAVA needs an even core register per sum: 4 sums and 4 row pointers
 * fit, 8 would spill): per 16 k, four 16-byte loads and four VMLADAVA (64 MACs); the last K % 16 one
 * tail-predicated step (zeroing loads, no byte read past a row). The 8 sums become two vectors,
 * requantized 4 channels at once (VQRDMULH, VRSHL), narrowed by VSTRB.32. A last odd pixel: tiles of
 * 4 channels x 1 pixel; the last channels % 4 under a lane predicate.
 *
 * The depthwise layers are in utvm/dsp_blocked_mve_dw.h.
 */
#include "utvm/dsp_blocked.h" /* first: it includes this header where its types are defined */
#ifndef UTVM_DSP_BLOCKED_MVE_H_
#define UTVM_DSP_BLOCKED_MVE_H_

#include <stdint.h>

#include "utvm/requant.h"

#if UTVM_BLK_MVE
#include <arm_mve.h>

#ifdef __cplusplus
extern "C" {
#endif

/* utvm_mve_requant_s32x4 then utvm_mve_clamp_s32x4, the same bits with no constant zero vector:
 * max(shift, 0) and min(shift, 0) as shift & ~sign and shift & sign (one vector register fewer held
 * over the tiles). */
static inline int32x4_t utvm_blk_mve_requant(const utvm_blk_rq_t* rq, int32x4_t x, int32x4_t mult, int32x4_t shift) {
  int32x4_t sign = vshrq_n_s32(shift, 31), right = vandq_s32(shift, sign);
  int32x4_t high = vqrdmulhq_s32(vshlq_s32(x, vbicq_s32(shift, sign)), mult);
  int32x4_t v = vrshlq_s32(vqaddq_s32(high, vshrq_n_s32(vandq_s32(high, right), 31)), right);
  return vminq_s32(vmaxq_s32(vaddq_n_s32(v, rq->out_zp), vdupq_n_s32(rq->act_min)), vdupq_n_s32(rq->act_max));
}

/* Lanes c..c+3's requantization of acc under p (stores only the predicated lanes' bytes). */
static inline void utvm_blk_mve_store4(const utvm_blk_rq_t* rq, int32x4_t acc, int32x4_t mult, int32x4_t shift,
                                       mve_pred16_t p, int8_t* out) {
  vstrbq_p_s32(out, utvm_blk_mve_requant(rq, acc, mult, shift), p);
}

/* Multipliers and shifts of channels c..c+3 (lanes under p; every lane the same per tensor). */
static inline void utvm_blk_mve_params(const utvm_blk_rq_t* rq, int32_t c, mve_pred16_t p, int32x4_t* mult,
                                       int32x4_t* shift) {
  if (rq->per_channel) {
    *mult = vldrwq_z_s32(rq->mult + c, p), *shift = vldrbq_z_s32(rq->shift + c, p); /* shifts: bytes */
  } else {
    *mult = vdupq_n_s32(rq->mult[0]), *shift = vdupq_n_s32(rq->shift[0]);
  }
}

/* Two rows a0, a1 against two weight rows w0, w1: s[2 * p + c] += sum_k a_p[k] * w_c[k]. */
static inline void utvm_blk_mve_2x2(const int8_t* a0, const int8_t* a1, const int8_t* w0, const int8_t* w1,
                                    int32_t k, int32_t* s) {
  int32_t s00 = s[0], s01 = s[1], s10 = s[2], s11 = s[3];
#pragma GCC unroll 1
  for (; k >= 16; k -= 16, a0 += 16, a1 += 16, w0 += 16, w1 += 16) {
    int8x16_t x0 = vldrbq_s8(a0), x1 = vldrbq_s8(a1), v0 = vldrbq_s8(w0), v1 = vldrbq_s8(w1);
    s00 = vmladavaq_s8(s00, x0, v0), s10 = vmladavaq_s8(s10, x1, v0);
    s01 = vmladavaq_s8(s01, x0, v1), s11 = vmladavaq_s8(s11, x1, v1);
  }
  if (k > 0) {
    mve_pred16_t p = vctp8q((uint32_t)k);
    int8x16_t x0 = vldrbq_z_s8(a0, p), x1 = vldrbq_z_s8(a1, p), v0 = vldrbq_z_s8(w0, p), v1 = vldrbq_z_s8(w1, p);
    s00 = vmladavaq_s8(s00, x0, v0), s10 = vmladavaq_s8(s10, x1, v0);
    s01 = vmladavaq_s8(s01, x0, v1), s11 = vmladavaq_s8(s11, x1, v1);
  }
  s[0] = s00, s[1] = s01, s[2] = s10, s[3] = s11;
}

/* One row a against four weight rows w, w + k, w + 2k, w + 3k: s[c] += sum_k a[k] * w_c[k]. */
static inline void utvm_blk_mve_1x4(const int8_t* a, const int8_t* w, int32_t k, int32_t* s) {
  const int8_t *w0 = w, *w1 = w + k, *w2 = w1 + k, *w3 = w2 + k;
  int32_t s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
#pragma GCC unroll 1
  for (; k >= 16; k -= 16, a += 16, w0 += 16, w1 += 16, w2 += 16, w3 += 16) {
    int8x16_t x = vldrbq_s8(a);
    s0 = vmladavaq_s8(s0, x, vldrbq_s8(w0)), s1 = vmladavaq_s8(s1, x, vldrbq_s8(w1));
    s2 = vmladavaq_s8(s2, x, vldrbq_s8(w2)), s3 = vmladavaq_s8(s3, x, vldrbq_s8(w3));
  }
  if (k > 0) {
    mve_pred16_t p = vctp8q((uint32_t)k);
    int8x16_t x = vldrbq_z_s8(a, p);
    s0 = vmladavaq_s8(s0, x, vldrbq_z_s8(w0, p)), s1 = vmladavaq_s8(s1, x, vldrbq_z_s8(w1, p));
    s2 = vmladavaq_s8(s2, x, vldrbq_z_s8(w2, p)), s3 = vmladavaq_s8(s3, x, vldrbq_z_s8(w3, p));
  }
  s[0] = s0, s[1] = s1, s[2] = s2, s[3] = s3;
}

/* One row against one weight row. */
static inline int32_t utvm_blk_mve_1x1(const int8_t* a, const int8_t* w, int32_t k, int32_t acc) {
#pragma GCC unroll 1
  for (; k >= 16; k -= 16, a += 16, w += 16) acc = vmladavaq_s8(acc, vldrbq_s8(a), vldrbq_s8(w));
  if (k > 0) {
    mve_pred16_t p = vctp8q((uint32_t)k);
    acc = vmladavaq_s8(acc, vldrbq_z_s8(a, p), vldrbq_z_s8(w, p));
  }
  return acc;
}

/* Two int8 pixel rows a0, a1 (k each) against every output channel, requantized into out0, out1. */
static inline void utvm_blk_mve_rows(const int8_t* a0, const int8_t* a1, const int8_t* w, int32_t k,
                                     const int32_t* bias, int32_t channels, const utvm_blk_rq_t* rq,
                                     int8_t* out0, int8_t* out1) {
  int32_t c = 0;
  int32x4_t mult, shift;
  for (; c + 4 <= channels; c += 4) {
    const int8_t* wc = w + c * k;
    int32_t lo[4] = {bias[c], bias[c + 1], bias[c], bias[c + 1]};
    int32_t hi[4] = {bias[c + 2], bias[c + 3], bias[c + 2], bias[c + 3]};
    utvm_blk_mve_2x2(a0, a1, wc, wc + k, k, lo);
    utvm_blk_mve_2x2(a0, a1, wc + 2 * k, wc + 3 * k, k, hi);
    if (rq->per_channel) {
      mult = vldrwq_s32(rq->mult + c), shift = vldrbq_s32(rq->shift + c); /* shifts: bytes */
    } else {
      mult = vdupq_n_s32(rq->mult[0]), shift = vdupq_n_s32(rq->shift[0]);
    }
    int32x4_t v0 = vsetq_lane_s32(hi[1], vsetq_lane_s32(hi[0], vsetq_lane_s32(lo[1], vdupq_n_s32(lo[0]), 1), 2), 3);
    int32x4_t v1 = vsetq_lane_s32(hi[3], vsetq_lane_s32(hi[2], vsetq_lane_s32(lo[3], vdupq_n_s32(lo[2]), 1), 2), 3);
    vstrbq_s32(out0 + c, utvm_blk_mve_requant(rq, v0, mult, shift));
    vstrbq_s32(out1 + c, utvm_blk_mve_requant(rq, v1, mult, shift));
  }
  if (c < channels) { /* 1 to 3 channels: a 2 x 2 pass per pair, the last one alone twice */
    int32_t s0[4], s1[4];
    for (int32_t j = 0; c + j < channels; j += 2) {
      const int32_t c1 = c + j + 1 < channels ? c + j + 1 : c + j;
      int32_t acc[4] = {bias[c + j], bias[c1], bias[c + j], bias[c1]};
      utvm_blk_mve_2x2(a0, a1, w + (c + j) * k, w + c1 * k, k, acc);
      s0[j] = acc[0], s1[j] = acc[2], s0[j + 1] = acc[1], s1[j + 1] = acc[3];
    }
    mve_pred16_t p = vctp32q((uint32_t)(channels - c));
    utvm_blk_mve_params(rq, c, p, &mult, &shift);
    utvm_blk_mve_store4(rq, vldrwq_z_s32(s0, p), mult, shift, p, out0 + c);
    utvm_blk_mve_store4(rq, vldrwq_z_s32(s1, p), mult, shift, p, out1 + c);
  }
}

/* One int8 pixel row against every output channel (4-channel tiles), requantized into out. */
static inline void utvm_blk_mve_row(const int8_t* a, const int8_t* w, int32_t k, const int32_t* bias,
                                    int32_t channels, const utvm_blk_rq_t* rq, int8_t* out) {
  int32x4_t mult, shift;
  for (int32_t c = 0; c < channels; c += 4) {
    mve_pred16_t p = vctp32q((uint32_t)(channels - c));
    int32_t s[4];
    if (c + 4 <= channels) {
      s[0] = bias[c], s[1] = bias[c + 1], s[2] = bias[c + 2], s[3] = bias[c + 3];
      utvm_blk_mve_1x4(a, w + c * k, k, s);
    } else {
      for (int32_t j = 0; c + j < channels; ++j) s[j] = utvm_blk_mve_1x1(a, w + (c + j) * k, k, bias[c + j]);
    }
    utvm_blk_mve_params(rq, c, p, &mult, &shift);
    utvm_blk_mve_store4(rq, vldrwq_z_s32(s, p), mult, shift, p, out + c);
  }
}

#ifdef __cplusplus
}
#endif
#endif /* UTVM_BLK_MVE */
#endif /* UTVM_DSP_BLOCKED_MVE_H_ */
