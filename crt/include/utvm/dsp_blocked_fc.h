/*
 * One-pixel matrix products without scratch (header-only; included by utvm/dsp_blocked.h): a
 * fully-connected layer at batch 1 (or a 1x1 convolution of one pixel) reads its int8 input row
 * as it is and widens each word in the inner loop, where four output channels share it, instead of
 * widening the row into 2 * k int16 of scratch first (which a RAM budget of the untuned model's
 * activations does not leave: MLPerf Tiny's ad01, k = 640).
 *
 * SMLAD path: an input word b0 b1 b2 b3 gives (256 b0, 256 b2) with one shift and AND and (b1, b3)
 * with SXTB16 of it rotated, the factors utvm_blk_widen4 stores (utvm/dsp_blocked_smlad.h); each of
 * the four weight words of a group of four k gives (w0, w2) by SXTB16 and (256 w1, 256 w3) by one
 * AND, two SMLAD each, so every sum is 256 times its products, in runs of at most UTVM_BLK_RUN k
 * (one arithmetic shift by 8 each, exact), the accumulators wrapping as the portable uint32 sums do.
 * Requantization: utvm_blk_rq_1x4 (utvm/dsp_blocked_rq.h). The portable path runs the same blocking
 * in C with wrapping uint32 sums: same bits. The input offset is in the bias (callers fold it).
 * A model's batch-1 layers take packed weights on the SMLAD path instead (one SXTB16 per weight word,
 * one LDM for four rows): utvm/dsp_blocked_fcp.h; this one serves the rest (a convolution's odd
 * pixel, layers whose weights do not pack).
 */
#include "utvm/dsp_blocked.h" /* first: it includes this header where its helpers are defined */
#ifndef UTVM_DSP_BLOCKED_FC_H_
#define UTVM_DSP_BLOCKED_FC_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if UTVM_BLK_SIMD
/* s + one input word's group (xe = 256 b0, 256 b2; xo = b1, b3) against a weight word, scaled by 256. */
#define UTVM_BLK_FC_DOT(s, wp) (s) = utvm_blk_dot1((s), xe, xo, utvm_blk_ld32(wp))
/* The group of four k at offset i: one input word widened, four weight words. */
#define UTVM_BLK_FC_GROUP(i)                                                                           \
  do {                                                                                                \
    const uint32_t v = utvm_blk_ld32(x + (i));                                                        \
    const int32_t xe = utvm_blk_s32((v << 8) & 0xFF00FF00u), xo = utvm_blk_odd(v);                    \
    UTVM_BLK_FC_DOT(s0, w + (i)), UTVM_BLK_FC_DOT(s1, w + (i) + k), UTVM_BLK_FC_DOT(s2, w + (i) + 2 * k); \
    UTVM_BLK_FC_DOT(s3, w + (i) + 3 * k);                                                             \
  } while (0)

/* acc[c] += the k & ~3 first k of row c (w + c * k) against the int8 row x, c = 0..3, each input
 * word widened once for the four rows, in runs of at most UTVM_BLK_RUN k. */
static inline void utvm_blk_fc_smlad_1x4(const int8_t* x, const int8_t* w, int32_t k, int32_t* acc) {
  for (int32_t left = k & ~3; left > 0; left -= UTVM_BLK_RUN) {
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    const int8_t* end = x + (left < UTVM_BLK_RUN ? left : UTVM_BLK_RUN);
    for (; x != end; x += 4, w += 4) UTVM_BLK_FC_GROUP(0);
    acc[0] = utvm_blk_unscale(acc[0], s0), acc[1] = utvm_blk_unscale(acc[1], s1);
    acc[2] = utvm_blk_unscale(acc[2], s2), acc[3] = utvm_blk_unscale(acc[3], s3);
  }
}
#undef UTVM_BLK_FC_GROUP
#undef UTVM_BLK_FC_DOT
#endif

/* The 1x4 tile on the int8 row x: acc[c] += sum_k x[k] * w_c[k], w_c = w + c * k. */
static inline void utvm_blk_fc_mac_1x4(const int8_t* x, const int8_t* w, int32_t k, int32_t* acc) {
  const int8_t *w0 = w, *w1 = w + k, *w2 = w1 + k, *w3 = w2 + k;
  int32_t i = 0;
#if UTVM_BLK_SIMD
  utvm_blk_fc_smlad_1x4(x, w, k, acc);
  i = k & ~3;
#endif
  uint32_t u0 = (uint32_t)acc[0], u1 = (uint32_t)acc[1], u2 = (uint32_t)acc[2], u3 = (uint32_t)acc[3];
  for (; i < k; ++i) {
    u0 += utvm_blk_mul(x[i], w0[i]), u1 += utvm_blk_mul(x[i], w1[i]);
    u2 += utvm_blk_mul(x[i], w2[i]), u3 += utvm_blk_mul(x[i], w3[i]);
  }
  acc[0] = utvm_blk_s32(u0), acc[1] = utvm_blk_s32(u1), acc[2] = utvm_blk_s32(u2), acc[3] = utvm_blk_s32(u3);
}

/* One int8 row against one weight row: acc + sum_k x[k] * w[k] (wrapping). */
static inline int32_t utvm_blk_fc_mac_1x1(const int8_t* x, const int8_t* w, int32_t k, int32_t acc) {
  uint32_t u = (uint32_t)acc;
  for (int32_t i = 0; i < k; ++i) u += utvm_blk_mul(x[i], w[i]);
  return utvm_blk_s32(u);
}

/* One pixel x[0..k) against every output channel (1 x 4 tiles), requantized, no scratch: out[c] =
 * requant(bias[c] + sum_k x[k] * w[c * k + k]). (Helium: utvm_blk_mve_row, on the int8 row too.) */
static inline void utvm_blk_fc_s8(const int8_t* x, int32_t k, const int8_t* w, int32_t channels,
                                  const int32_t* bias, const utvm_blk_rq_t* rq, int8_t* out) {
#if UTVM_BLK_MVE
  utvm_blk_mve_row(x, w, k, bias, channels, rq, out);
#else
#if UTVM_BLK_SIMD
  const utvm_blk_frq_t f = utvm_blk_frq(rq, channels);
#endif
  int32_t c = 0;
  for (const int32_t full = channels & ~3; c < full; c += 4, w += 4 * k) {
    int32_t acc[4] = {bias[c], bias[c + 1], bias[c + 2], bias[c + 3]};
    utvm_blk_fc_mac_1x4(x, w, k, acc);
#if UTVM_BLK_SIMD
    utvm_blk_rq_1x4(rq, &f, c, acc, out);
#else
    for (int32_t j = 0; j < 4; ++j) out[c + j] = utvm_blk_requant(rq, acc[j], c + j);
#endif
  }
  for (; c < channels; ++c, w += k) out[c] = utvm_blk_requant(rq, utvm_blk_fc_mac_1x1(x, w, k, bias[c]), c);
#endif
}

#ifdef __cplusplus
}
#endif
#endif /* UTVM_DSP_BLOCKED_FC_H_ */
