/*
 * The fused requantization of utvm/dsp_blocked.h's tiles on cores with the DSP extension (header-only;
 * included by utvm/dsp_blocked.h when UTVM_BLK_SIMD): four accumulators of two channels (2 x 2 tile)
 * or four channels (1 x 4 tile) to int8, same bits as utvm_blk_requant, in about half its
 * instructions.
 *
 * A layer whose channels all have a right shift e of 1..23 (shift -1..-23: every TFLite scale below
 * 1/2 down to 2^-23) and multipliers other than INT32_MIN (utvm_blk_frq_t.fast, checked once per
 * layer) takes the short path:
 *   x = (acc * m + 2^30) >> 31                  SaturatingRoundingDoublingHighMul (no saturation
 *                                               without INT32_MIN: one SMLAL, a shift, an OR);
 *   q = QADD(x, 2^(e-1) - [x < 0]) >> e         RoundingDivideByPOT (halves away from zero). The sum
 *                                               saturates only for x > INT32_MAX - 2^(e-1), where the
 *                                               exact quotient and this one are both at least
 *                                               2^(31-e) - 1 >= 255 and clamp alike;
 *   SSAT(q + out_zp, 8), then act_min / act_max on the four packed bytes at once (SSUB8 and SEL).
 * Other layers (left shifts, shift 0, very small scales) go through utvm_blk_requant.
 */
#include "utvm/dsp_blocked.h" /* first: it includes this header where its types are defined */
#ifndef UTVM_DSP_BLOCKED_RQ_H_
#define UTVM_DSP_BLOCKED_RQ_H_

#include <stdint.h>
#include <string.h>

#if UTVM_BLK_SIMD
#ifdef __cplusplus
extern "C" {
#endif

/* The short path up to the output offset: SSAT(q + out_zp, 8) as a byte (right: 1..23). */
static inline uint32_t utvm_blk_rq_fast(int32_t acc, int32_t mult, int32_t right, int32_t out_zp) {
  const int32_t x = (int32_t)(((int64_t)acc * mult + ((int64_t)1 << 30)) >> 31);
  const int32_t q = __qadd(x, (1 << (right - 1)) + (x >> 31)) >> right;
  return (uint32_t)__ssat(q + out_zp, 8) & 0xFFu;
}

/* Four packed outputs clamped to [act_min, act_max] bytewise. */
static inline uint32_t utvm_blk_clamp4(uint32_t v, const utvm_blk_frq_t* f) {
  const int8x4_t lo = utvm_blk_s32(f->lo4), hi = utvm_blk_s32(f->hi4);
  int8x4_t m = utvm_blk_s32(v);
  (void)__ssub8(m, lo); /* GE where m >= lo */
  m = __sel(m, lo);
  (void)__ssub8(m, hi); /* GE where m >= hi */
  return (uint32_t)__sel(hi, m);
}

/* acc (pixel 0 x channels c, c + 1, pixel 1 x the same) into o0[c..c+1], o1[c..c+1]. */
static inline void utvm_blk_rq_2x2(const utvm_blk_rq_t* rq, const utvm_blk_frq_t* f, int32_t c, const int32_t* acc,
                                   int8_t* o0, int8_t* o1) {
  if (f->fast) {
    const int32_t i = c * f->step, j = (c + 1) * f->step, zp = f->out_zp;
    const int32_t ma = f->mult[i], mb = f->mult[j], ea = -(int32_t)f->shift[i], eb = -(int32_t)f->shift[j];
    uint32_t v = utvm_blk_rq_fast(acc[0], ma, ea, zp) | utvm_blk_rq_fast(acc[1], mb, eb, zp) << 8 |
                 utvm_blk_rq_fast(acc[2], ma, ea, zp) << 16 | utvm_blk_rq_fast(acc[3], mb, eb, zp) << 24;
    v = utvm_blk_clamp4(v, f);
    const uint16_t v0 = (uint16_t)v, v1 = (uint16_t)(v >> 16);
    memcpy(o0 + c, &v0, 2), memcpy(o1 + c, &v1, 2);
  } else {
    o0[c] = utvm_blk_requant(rq, acc[0], c), o0[c + 1] = utvm_blk_requant(rq, acc[1], c + 1);
    o1[c] = utvm_blk_requant(rq, acc[2], c), o1[c + 1] = utvm_blk_requant(rq, acc[3], c + 1);
  }
}

/* acc (channels c..c+3 of one pixel) into o[c..c+3]. */
static inline void utvm_blk_rq_1x4(const utvm_blk_rq_t* rq, const utvm_blk_frq_t* f, int32_t c, const int32_t* acc,
                                   int8_t* o) {
  if (f->fast) {
    uint32_t v = 0;
    for (int32_t j = 0; j < 4; ++j) {
      const int32_t i = (c + j) * f->step;
      v |= utvm_blk_rq_fast(acc[j], f->mult[i], -(int32_t)f->shift[i], f->out_zp) << (8 * j);
    }
    v = utvm_blk_clamp4(v, f);
    memcpy(o + c, &v, 4);
  } else {
    for (int32_t j = 0; j < 4; ++j) o[c + j] = utvm_blk_requant(rq, acc[j], c + j);
  }
}

#ifdef __cplusplus
}
#endif
#endif /* UTVM_BLK_SIMD */
#endif /* UTVM_DSP_BLOCKED_RQ_H_ */
