/*
 * Depthwise convolution micro-kernels of utvm/dsp_blocked.h (included from there; see its comment):
 * NHWC int8, depth multiplier 1, weights [KH, KW, C] (TFLite's [1, KH, KW, C]), bias [C] int32 with
 * the input offset folded in, requantization fused per four channels.
 *
 * Per output pixel the taps' input rows are looked up once (a row of the input zero point for taps
 * outside the input: the folded bias needs padded taps to read zp), then four channels per pass:
 * per tap two word loads, four SXTB16, four SMLABB/SMLATT (4 MACs). (Pairing two taps per SMLAD
 * needs PKHBT/PKHTB on both operands: more instructions than it saves.) Portable C elsewhere; on
 * Helium, utvm/dsp_blocked_mve_dw.h (16 channels per pass). 3x3 windows at dilation 1 take the plane
 * kernel of utvm/dsp_blocked_dw3x3.h instead (one channel at a time, taps paired for SMLAD; its
 * scratch is UTVM_BLK_DW_SCRATCH bytes).
 */
#ifndef UTVM_DSP_BLOCKED_DW_H_
#define UTVM_DSP_BLOCKED_DW_H_

#include <stdint.h>
#include <string.h>

#include "utvm/dsp_blocked.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UTVM_BLK_DW_MAX_TAPS 64 /* larger windows take the scalar path everywhere */
/* Bytes of zp_row scratch a layer needs: its channels, or the 3x3 plane where that is larger. */
#define UTVM_BLK_DW_SCRATCH(channels, out_h, out_w, stride_h, stride_w)                              \
  ((channels) > UTVM_BLK_DW3X3_PLANE(out_h, out_w, stride_h, stride_w) ? (channels)                 \
                                                                       : UTVM_BLK_DW3X3_PLANE(out_h, out_w, stride_h, stride_w))

typedef struct {
  int32_t in_h, in_w, channels, k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
  int32_t out_h, out_w, in_zp;
} utvm_blk_dw_shape_t;

#ifdef __cplusplus
}
#endif
#include "utvm/dsp_blocked_mve_dw.h" /* the Helium path */
#include "utvm/dsp_blocked_dw3x3.h"  /* the 3x3 plane kernel (SMLAD and portable paths) */
#ifdef __cplusplus
extern "C" {
#endif

/* One output pixel: tap[t] the input row of channels tap t reads (the zero-point row `zp_row` where
 * the tap falls outside the input), weights of tap t at w + t * C. Four channels per pass: per tap
 * one word of inputs and one of weights, SXTB16 and SXTB16 ROR #8 of each, SMLABB and SMLATT into
 * four accumulators started from the bias, requantized together by utvm/dsp_blocked_rq.h's 1 x 4
 * epilogue (its short path where the layer `f` takes it); the last C % 4 channels scalar. */
static inline void utvm_blk_dw_pixel(const int8_t* const* tap, int32_t taps, const int8_t* w,
                                     const int32_t* bias, int32_t C, const utvm_blk_rq_t* rq,
                                     const utvm_blk_frq_t* f, int8_t* out) {
  int32_t c = 0;
  for (; c + 4 <= C; c += 4) {
    const int8_t* q = w + c;
#if UTVM_BLK_SIMD
    int32_t s0 = bias[c], s1 = bias[c + 1], s2 = bias[c + 2], s3 = bias[c + 3];
    for (int32_t t = 0; t < taps; ++t, q += C) {
      uint32_t x = utvm_blk_ld32(tap[t] + c), v = utvm_blk_ld32(q);
      int32_t xe = utvm_blk_even(x), ve = utvm_blk_even(v), xo = utvm_blk_odd(x), vo = utvm_blk_odd(v);
      s0 = __smlabb(xe, ve, s0), s2 = __smlatt(xe, ve, s2);
      s1 = __smlabb(xo, vo, s1), s3 = __smlatt(xo, vo, s3);
    }
    const int32_t acc[4] = {s0, s1, s2, s3};
    utvm_blk_rq_1x4(rq, f, c, acc, out);
#else
    uint32_t u0 = (uint32_t)bias[c], u1 = (uint32_t)bias[c + 1], u2 = (uint32_t)bias[c + 2], u3 = (uint32_t)bias[c + 3];
    for (int32_t t = 0; t < taps; ++t, q += C) {
      const int8_t* x = tap[t] + c;
      u0 += utvm_blk_mul(x[0], q[0]), u1 += utvm_blk_mul(x[1], q[1]);
      u2 += utvm_blk_mul(x[2], q[2]), u3 += utvm_blk_mul(x[3], q[3]);
    }
    (void)f;
    out[c] = utvm_blk_requant(rq, utvm_blk_s32(u0), c), out[c + 1] = utvm_blk_requant(rq, utvm_blk_s32(u1), c + 1);
    out[c + 2] = utvm_blk_requant(rq, utvm_blk_s32(u2), c + 2), out[c + 3] = utvm_blk_requant(rq, utvm_blk_s32(u3), c + 3);
#endif
  }
  for (; c < C; ++c) {
    uint32_t u = (uint32_t)bias[c];
    for (int32_t t = 0; t < taps; ++t) u += utvm_blk_mul(tap[t][c], w[t * C + c]);
    out[c] = utvm_blk_requant(rq, utvm_blk_s32(u), c);
  }
}

/* The whole layer: in [in_h, in_w, C], out [out_h, out_w, C]; zp_row: C bytes of scratch (filled with
 * the input zero point here). Windows of more than UTVM_BLK_DW_MAX_TAPS taps are refused (returns -1). */
static inline int32_t utvm_blk_dw_s8(const int8_t* in, const int8_t* w, const int32_t* bias,
                                     const utvm_blk_dw_shape_t* s, const utvm_blk_rq_t* rq, int8_t* zp_row,
                                     int8_t* out) {
#if UTVM_BLK_MVE
  return utvm_blk_mve_dw_s8(in, w, bias, s, rq, zp_row, out, s->k_h, s->k_w);
#else
  const int32_t C = s->channels, taps = s->k_h * s->k_w;
  const int8_t* tap[UTVM_BLK_DW_MAX_TAPS];
  if (taps > UTVM_BLK_DW_MAX_TAPS) return -1;
  const utvm_blk_frq_t f = utvm_blk_frq(rq, C);
  memset(zp_row, s->in_zp, (size_t)C);
  for (int32_t y = 0; y < s->out_h; ++y) {
    for (int32_t x = 0; x < s->out_w; ++x) {
      const int32_t iy0 = y * s->stride_h - s->pad_top, ix0 = x * s->stride_w - s->pad_left;
      for (int32_t ty = 0, t = 0; ty < s->k_h; ++ty) {
        const int32_t iy = iy0 + ty * s->dil_h;
        for (int32_t tx = 0; tx < s->k_w; ++tx, ++t) {
          const int32_t ix = ix0 + tx * s->dil_w;
          tap[t] = iy >= 0 && iy < s->in_h && ix >= 0 && ix < s->in_w ? in + (iy * s->in_w + ix) * C : zp_row;
        }
      }
      utvm_blk_dw_pixel(tap, taps, w, bias, C, rq, &f, out + (y * s->out_w + x) * C);
    }
  }
  return 0;
#endif
}

/* The 3x3 special case (s->k_h == s->k_w == 3): at dilation 1 the plane kernel of
 * utvm/dsp_blocked_dw3x3.h (zp_row then UTVM_BLK_DW_SCRATCH bytes), else the tap count a constant the
 * compiler unrolls. */
static inline int32_t utvm_blk_dw3x3_s8(const int8_t* in, const int8_t* w, const int32_t* bias,
                                        const utvm_blk_dw_shape_t* s, const utvm_blk_rq_t* rq, int8_t* zp_row,
                                        int8_t* out) {
#if UTVM_BLK_MVE
  return utvm_blk_mve_dw_s8(in, w, bias, s, rq, zp_row, out, 3, 3);
#else
  if (s->dil_h == 1 && s->dil_w == 1) return utvm_blk_dw3x3_plane_s8(in, w, bias, s, rq, zp_row, out);
  const int32_t C = s->channels;
  const int8_t* tap[9];
  const utvm_blk_frq_t f = utvm_blk_frq(rq, C);
  memset(zp_row, s->in_zp, (size_t)C);
  for (int32_t y = 0; y < s->out_h; ++y) {
    for (int32_t x = 0; x < s->out_w; ++x) {
      const int32_t iy0 = y * s->stride_h - s->pad_top, ix0 = x * s->stride_w - s->pad_left;
      for (int32_t t = 0; t < 9; ++t) {
        const int32_t iy = iy0 + (t / 3) * s->dil_h, ix = ix0 + (t % 3) * s->dil_w;
        tap[t] = iy >= 0 && iy < s->in_h && ix >= 0 && ix < s->in_w ? in + (iy * s->in_w + ix) * C : zp_row;
      }
      utvm_blk_dw_pixel(tap, 9, w, bias, C, rq, &f, out + (y * s->out_w + x) * C);
    }
  }
  return 0;
#endif
}

#ifdef __cplusplus
}
#endif
#endif /* UTVM_DSP_BLOCKED_DW_H_ */
