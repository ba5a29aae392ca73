/*
 * The fused requantization of utvm/dsp_blocked.h's tiles on cores with the DSP extension (header-only;
 * included by utvm/dsp_blocked.h): four accumulators of two channels (2 x 2 tile) or four channels
 * (1 x 4 tile) to int8, same bits as utvm_blk_requant, in about a third of its instructions.
 *
 * A layer whose multipliers m all lie in [2^30, 2^31) (TFLite's Q31 multipliers) or are 0 (a dead
 * channel), with right shifts e of 2..31 (shift -2..-31), takes the short path (utvm_blk_frq_t.fast,
 * checked once per layer). TFLite's double rounding is
 *   x = floor((acc * m + 2^30) / 2^31)                 SaturatingRoundingDoublingHighMul (no
 *                                                      saturation without m = INT32_MIN),
 *   q = floor((x + 2^(e-1) - [x < 0]) / 2^e)           RoundingDivideByPOT (halves away from zero),
 * and floors of floors by powers of two nest, so q = floor(T / 2^(31+e)) with the 64-bit
 *   T = acc * m + 2^30 + 2^(30+e) - 2^31 [x < 0],
 * and x < 0 exactly when acc < 0 for such m (acc = -1 with m = 2^30 gives x = 0, and q = 0 either
 * way; m = 0 gives q = 0 with any e >= 2: e is taken as at least 2). The constant's high word is
 * 2^(e-2) - [acc < 0] and its low word 2^30 XOR 2^31 [acc < 0], so per output: ASR (the sign), ADD,
 * EOR, one SMLAL, ASR by e - 1 of the high word; then SSAT(q + out_zp, 8), which is the whole clamp where the
 * activation range is all of int8, else act_min / act_max on the four packed bytes at once (SSUB8
 * and SEL). Other layers go through utvm_blk_requant.
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

/* One channel's short-path constants: multiplier, 2^(e-2) and e - 1 (e at least 2). */
typedef struct {
  int32_t mult, high, right;
} utvm_blk_ch_t;

static inline utvm_blk_ch_t utvm_blk_channel(const utvm_blk_frq_t* f, int32_t c) {
  const int32_t i = c * f->step, e2 = -(int32_t)f->shift[i] - 2; /* >= 0 but for m = 0: taken as 0 */
  const int32_t e = e2 < 0 ? 0 : e2;
  const utvm_blk_ch_t ch = {f->mult[i], (int32_t)(1u << e), e + 1};
  return ch;
}

/* The short path up to the output offset: SSAT(q + out_zp, 8). */
static inline int32_t utvm_blk_rq_fast(int32_t acc, const utvm_blk_ch_t* ch, int32_t out_zp) {
  const int32_t sign = acc >> 31; /* arithmetic (GCC, Clang): 0 or -1 */
  const uint64_t c = (uint64_t)(uint32_t)(ch->high + sign) << 32 | (0x40000000u ^ ((uint32_t)sign << 31));
  const int32_t q = (int32_t)(((int64_t)acc * ch->mult + (int64_t)c) >> 32) >> ch->right;
  return __ssat(q + out_zp, 8);
}

/* An int8 value's byte. */
static inline uint32_t utvm_blk_byte(int32_t v) { return (uint32_t)v & 0xFFu; }

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
    const utvm_blk_ch_t a = utvm_blk_channel(f, c), b = utvm_blk_channel(f, c + 1);
    const int32_t zp = f->out_zp;
    const int32_t v00 = utvm_blk_rq_fast(acc[0], &a, zp), v01 = utvm_blk_rq_fast(acc[1], &b, zp);
    const int32_t v10 = utvm_blk_rq_fast(acc[2], &a, zp), v11 = utvm_blk_rq_fast(acc[3], &b, zp);
    if (f->full) { /* SSAT was the clamp */
      o0[c] = (int8_t)v00, o0[c + 1] = (int8_t)v01, o1[c] = (int8_t)v10, o1[c + 1] = (int8_t)v11;
      return;
    }
    const uint32_t v = utvm_blk_clamp4(utvm_blk_byte(v00) | utvm_blk_byte(v01) << 8 | utvm_blk_byte(v10) << 16 |
                                       utvm_blk_byte(v11) << 24, f);
    const uint16_t h0 = (uint16_t)v, h1 = (uint16_t)(v >> 16);
    memcpy(o0 + c, &h0, 2), memcpy(o1 + c, &h1, 2);
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
      const utvm_blk_ch_t ch = utvm_blk_channel(f, c + j);
      v |= utvm_blk_byte(utvm_blk_rq_fast(acc[j], &ch, f->out_zp)) << (8 * j);
    }
    if (!f->full) v = utvm_blk_clamp4(v, f);
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
