/*
 * The Helium (MVE) path of utvm/dsp_blocked_dw.h's depthwise layers (included from there; see
 * utvm/dsp_blocked_mve.h): same API, same bits as the SMLAD and portable paths.
 *
 * Channels in chunks of 64: per chunk, the requantization parameters are laid out once in the order
 * the accumulators hold them (bias, multiplier, left shift max(shift, 0), right shift min(shift, 0),
 * each as the even and the odd channels of 8; zeros past the last channel), 1 KiB on the stack; then
 * every output pixel: its taps' input rows looked up (the zero-point row for taps outside the input,
 * as the other paths do), then 16 channels per pass in four int32 vectors started from the bias: per
 * tap two widening loads of inputs (VLDRB.S16), two of weights, VMULLB/VMULLT into int32 and four
 * VADD (16 MACs; Helium has no vector-by-vector integer VMLA). The 16 outputs are requantized as four
 * vectors (VQRDMULH, VRSHL), put back in channel order by VMOVNB/VMOVNT and stored narrowed
 * (VSTRB.16). The last channels % 16 of a chunk: the same under lane predicates.
 */
#include "utvm/dsp_blocked_dw.h" /* first: it includes this header where its types are defined */
#ifndef UTVM_DSP_BLOCKED_MVE_DW_H_
#define UTVM_DSP_BLOCKED_MVE_DW_H_

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#if UTVM_BLK_MVE
#include <arm_mve.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UTVM_BLK_MVE_DW_CHUNK 64 /* channels whose parameters are laid out at once (4 int32 each) */

/* Channels c0..c0+n's parameters into prm: per 8 channels 32 int32, vectors of 4 lanes: bias (even
 * channels, odd channels), multiplier (even, odd), left shift (even, odd), right shift (even, odd). */
static inline void utvm_blk_mve_dw_prepare(const int32_t* bias, const utvm_blk_rq_t* rq, int32_t c0, int32_t n,
                                           int32_t* prm) {
  memset(prm, 0, sizeof(int32_t) * 64u * (uint32_t)((n + 15) / 16)); /* whole passes of 16 */
  for (int32_t i = 0; i < n; ++i) {
    const int32_t c = c0 + i, k = rq->per_channel ? c : 0, shift = rq->shift[k];
    int32_t* g = prm + (i / 8) * 32 + (i % 2) * 4 + (i % 8) / 2;
    g[0] = bias[c], g[8] = rq->mult[k], g[16] = shift > 0 ? shift : 0, g[24] = shift < 0 ? shift : 0;
  }
}

/* utvm_mve_requant_s32x4 and utvm_mve_clamp_s32x4 with the shifts split beforehand: the same bits.
 * zp, lo, hi: output zero point, act_min, act_max (values, not read through rq: the compiler barriers
 * of the tap loop would reload them). */
static inline int32x4_t utvm_blk_mve_requant_lr(int32_t zp, int32_t lo, int32_t hi, int32x4_t x, const int32_t* g) {
  int32x4_t right = vldrwq_s32(g + 16);
  int32x4_t high = vqrdmulhq_s32(vshlq_s32(x, vldrwq_s32(g + 8)), vldrwq_s32(g));
  int32x4_t v = vrshlq_s32(vqaddq_s32(high, vshrq_n_s32(vandq_s32(high, right), 31)), right);
  return vminq_s32(vmaxq_s32(vaddq_n_s32(v, zp), vdupq_n_s32(lo)), vdupq_n_s32(hi));
}

/* 16 channels from c of one output pixel (prm: theirs), 8-bit lanes under p[0], p[1] where
 * `predicated` (a constant at each call: full passes load and store without). */
static inline void utvm_blk_mve_dw16(const int8_t* const* tap, int32_t taps, const int8_t* w, int32_t C, int32_t c,
                                     const int32_t* prm, int32_t zp, int32_t lo, int32_t hi,
                                     const mve_pred16_t* p, int predicated, int8_t* out) {
  int32x4_t s[4];
#pragma GCC unroll 4
  for (int32_t j = 0; j < 4; ++j) s[j] = vldrwq_s32(prm + 32 * (j / 2) + 4 * (j % 2));
  w += c;
  /* Rolled: 4 sums, 4 operands fill the 8 vector registers; GCC's complete unrolling of the 9 taps
   * hoists the loads and spills (3.5 instructions per MAC, not 2.2, in blocked_bench.c). */
#pragma GCC unroll 1
  for (int32_t t = 0; t < taps; ++t, w += C) {
    const int8_t* x = tap[t] + c;
#pragma GCC unroll 2
    for (int32_t j = 0; j < 2; ++j) {
      int16x8_t xv = predicated ? vldrbq_z_s16(x + 8 * j, p[j]) : vldrbq_s16(x + 8 * j);
      int16x8_t wv = predicated ? vldrbq_z_s16(w + 8 * j, p[j]) : vldrbq_s16(w + 8 * j);
      s[2 * j] = vaddq_s32(s[2 * j], vmullbq_int_s16(xv, wv));
      s[2 * j + 1] = vaddq_s32(s[2 * j + 1], vmulltq_int_s16(xv, wv));
      /* A compiler barrier (ISO C11): the next group's loads after, or 4 sums + 4 operands spill. */
      atomic_signal_fence(memory_order_seq_cst);
    }
  }
#pragma GCC unroll 2
  for (int32_t j = 0; j < 2; ++j) {
    const int32_t* g = prm + 32 * j;
    int32x4_t even = utvm_blk_mve_requant_lr(zp, lo, hi, s[2 * j], g + 8);
    int32x4_t odd = utvm_blk_mve_requant_lr(zp, lo, hi, s[2 * j + 1], g + 12);
    int16x8_t v = vmovntq_s32(vmovnbq_s32(vuninitializedq_s16(), even), odd); /* channels back in order */
    if (predicated) {
      vstrbq_p_s16(out + c + 8 * j, v, p[j]);
    } else {
      vstrbq_s16(out + c + 8 * j, v);
    }
  }
}

/* A depthwise layer with a k_h x k_w window (constants where the caller knows them). */
static inline int32_t utvm_blk_mve_dw_s8(const int8_t* in, const int8_t* w, const int32_t* bias,
                                         const utvm_blk_dw_shape_t* s, const utvm_blk_rq_t* rq, int8_t* zp_row,
                                         int8_t* out, int32_t k_h, int32_t k_w) {
  const int32_t C = s->channels, taps = k_h * k_w;
  const int8_t* tap[UTVM_BLK_DW_MAX_TAPS];
  int32_t prm[4 * UTVM_BLK_MVE_DW_CHUNK];
  const mve_pred16_t all[2] = {0xFFFF, 0xFFFF};
  const int32_t zp = rq->out_zp, lo = rq->act_min, hi = rq->act_max;
  if (taps > UTVM_BLK_DW_MAX_TAPS) return -1;
  memset(zp_row, s->in_zp, (size_t)C);
  for (int32_t c0 = 0; c0 < C; c0 += UTVM_BLK_MVE_DW_CHUNK) {
    const int32_t n = C - c0 < UTVM_BLK_MVE_DW_CHUNK ? C - c0 : UTVM_BLK_MVE_DW_CHUNK, full = n / 16 * 16;
    mve_pred16_t p[2];
    p[0] = vctp16q((uint32_t)(n - full)), p[1] = vctp16q((uint32_t)(n - full > 8 ? n - full - 8 : 0));
    utvm_blk_mve_dw_prepare(bias, rq, c0, n, prm);
    for (int32_t y = 0; y < s->out_h; ++y) {
      for (int32_t x = 0; x < s->out_w; ++x) {
        const int32_t iy0 = y * s->stride_h - s->pad_top, ix0 = x * s->stride_w - s->pad_left;
        for (int32_t ty = 0, t = 0; ty < k_h; ++ty) {
          const int32_t iy = iy0 + ty * s->dil_h;
          for (int32_t tx = 0; tx < k_w; ++tx, ++t) {
            const int32_t ix = ix0 + tx * s->dil_w;
            tap[t] = iy >= 0 && iy < s->in_h && ix >= 0 && ix < s->in_w ? in + (iy * s->in_w + ix) * C : zp_row;
          }
        }
        int8_t* o = out + (y * s->out_w + x) * C;
        for (int32_t c = 0; c < full; c += 16) {
          utvm_blk_mve_dw16(tap, taps, w, C, c0 + c, prm + 4 * c, zp, lo, hi, all, 0, o);
        }
        if (full < n) utvm_blk_mve_dw16(tap, taps, w, C, c0 + full, prm + 4 * full, zp, lo, hi, p, 1, o);
      }
    }
  }
  return 0;
}

#ifdef __cplusplus
}
#endif
#endif /* UTVM_BLK_MVE */
#endif /* UTVM_DSP_BLOCKED_MVE_DW_H_ */
