/*
 * Depthwise convolution micro-kernels of utvm/dsp_blocked.h (included from there; see its comment):
 * NHWC int8, depth multiplier 1, weights [KH, KW, C] (TFLite's [1, KH, KW, C]), bias [C] int32 with
 * the input offset folded in, requantization fused per four channels.
 *
 * Interior pixels (window inside the input): four channels per pass, taps in pairs; per pair four
 * word loads, four SXTB16, four PKHBT/PKHTB (channel c's two taps in one register), four SMLAD (8
 * MACs); an odd last tap uses SMLABB/SMLATT. Border pixels and the last C % 4 channels: a scalar
 * loop that reads the input zero point outside the image. Portable C elsewhere, same bits.
 */
#ifndef UTVM_DSP_BLOCKED_DW_H_
#define UTVM_DSP_BLOCKED_DW_H_

#include <stdint.h>

#include "utvm/dsp_blocked.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UTVM_BLK_DW_MAX_TAPS 64 /* larger windows take the scalar path everywhere */

typedef struct {
  int32_t in_h, in_w, channels, k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
  int32_t out_h, out_w, in_zp;
} utvm_blk_dw_shape_t;

/* One output pixel, channels [c, channels), scalar: taps outside the input read in_zp. */
static inline void utvm_blk_dw_pixel_scalar(const int8_t* in, const int8_t* w, const int32_t* bias,
                                            const utvm_blk_dw_shape_t* s, const utvm_blk_rq_t* rq,
                                            int32_t iy0, int32_t ix0, int32_t c, int8_t* out) {
  const int32_t C = s->channels;
  for (; c < C; ++c) {
    uint32_t sum = (uint32_t)bias[c];
    for (int32_t ty = 0; ty < s->k_h; ++ty) {
      int32_t iy = iy0 + ty * s->dil_h;
      for (int32_t tx = 0; tx < s->k_w; ++tx) {
        int32_t ix = ix0 + tx * s->dil_w;
        int32_t x = (iy >= 0 && iy < s->in_h && ix >= 0 && ix < s->in_w) ? in[(iy * s->in_w + ix) * C + c] : s->in_zp;
        sum += utvm_blk_mul(x, w[(ty * s->k_w + tx) * C + c]);
      }
    }
    out[c] = utvm_blk_requant(rq, utvm_blk_s32(sum), c);
  }
}

/* An interior pixel: `at` its window's first input element, off[t] tap t's offset from it, `taps`
 * taps (weights tap t at w + t * C). Four channels per pass; the rest go to the scalar loop. */
static inline int32_t utvm_blk_dw_pixel_x4(const int8_t* at, const int32_t* off, int32_t taps,
                                           const int8_t* w, const int32_t* bias, int32_t C,
                                           const utvm_blk_rq_t* rq, int8_t* out) {
  int32_t c = 0;
  for (; c + 4 <= C; c += 4) {
    const int8_t *p = at + c, *q = w + c;
#if UTVM_BLK_SIMD
    int32_t s0 = bias[c], s1 = bias[c + 1], s2 = bias[c + 2], s3 = bias[c + 3];
    int32_t t = 0;
    for (; t + 2 <= taps; t += 2) {
      uint32_t xa = utvm_blk_ld32(p + off[t]), xb = utvm_blk_ld32(p + off[t + 1]);
      uint32_t wa = utvm_blk_ld32(q + t * C), wb = utvm_blk_ld32(q + (t + 1) * C);
      uint32_t ea = (uint32_t)utvm_blk_even(xa), eb = (uint32_t)utvm_blk_even(xb);
      uint32_t fa = (uint32_t)utvm_blk_even(wa), fb = (uint32_t)utvm_blk_even(wb);
      s0 = __smlad(utvm_blk_s32((ea & 0xFFFFu) | (eb << 16)), utvm_blk_s32((fa & 0xFFFFu) | (fb << 16)), s0);
      s2 = __smlad(utvm_blk_s32((ea >> 16) | (eb & 0xFFFF0000u)), utvm_blk_s32((fa >> 16) | (fb & 0xFFFF0000u)), s2);
      ea = (uint32_t)utvm_blk_odd(xa), eb = (uint32_t)utvm_blk_odd(xb);
      fa = (uint32_t)utvm_blk_odd(wa), fb = (uint32_t)utvm_blk_odd(wb);
      s1 = __smlad(utvm_blk_s32((ea & 0xFFFFu) | (eb << 16)), utvm_blk_s32((fa & 0xFFFFu) | (fb << 16)), s1);
      s3 = __smlad(utvm_blk_s32((ea >> 16) | (eb & 0xFFFF0000u)), utvm_blk_s32((fa >> 16) | (fb & 0xFFFF0000u)), s3);
    }
    if (t < taps) {
      uint32_t x = utvm_blk_ld32(p + off[t]), v = utvm_blk_ld32(q + t * C);
      int32_t xe = utvm_blk_even(x), xo = utvm_blk_odd(x), ve = utvm_blk_even(v), vo = utvm_blk_odd(v);
      s0 = __smlabb(xe, ve, s0), s2 = __smlatt(xe, ve, s2);
      s1 = __smlabb(xo, vo, s1), s3 = __smlatt(xo, vo, s3);
    }
#else
    uint32_t u[4] = {(uint32_t)bias[c], (uint32_t)bias[c + 1], (uint32_t)bias[c + 2], (uint32_t)bias[c + 3]};
    for (int32_t t = 0; t < taps; ++t) {
      const int8_t *x = p + off[t], *v = q + t * C;
      u[0] += utvm_blk_mul(x[0], v[0]), u[1] += utvm_blk_mul(x[1], v[1]);
      u[2] += utvm_blk_mul(x[2], v[2]), u[3] += utvm_blk_mul(x[3], v[3]);
    }
    int32_t s0 = utvm_blk_s32(u[0]), s1 = utvm_blk_s32(u[1]), s2 = utvm_blk_s32(u[2]), s3 = utvm_blk_s32(u[3]);
#endif
    out[c] = utvm_blk_requant(rq, s0, c), out[c + 1] = utvm_blk_requant(rq, s1, c + 1);
    out[c + 2] = utvm_blk_requant(rq, s2, c + 2), out[c + 3] = utvm_blk_requant(rq, s3, c + 3);
  }
  return c;
}

/* The whole layer: in [in_h, in_w, C], out [out_h, out_w, C]. */
static inline void utvm_blk_dw_s8(const int8_t* in, const int8_t* w, const int32_t* bias,
                                  const utvm_blk_dw_shape_t* s, const utvm_blk_rq_t* rq, int8_t* out) {
  const int32_t C = s->channels, taps = s->k_h * s->k_w;
  int32_t off[UTVM_BLK_DW_MAX_TAPS];
  const int simd = taps <= UTVM_BLK_DW_MAX_TAPS;
  for (int32_t t = 0; simd && t < taps; ++t) off[t] = ((t / s->k_w) * s->dil_h * s->in_w + (t % s->k_w) * s->dil_w) * C;
  const int32_t span_y = (s->k_h - 1) * s->dil_h, span_x = (s->k_w - 1) * s->dil_w;
  for (int32_t y = 0; y < s->out_h; ++y) {
    const int32_t iy0 = y * s->stride_h - s->pad_top;
    const int row_in = iy0 >= 0 && iy0 + span_y < s->in_h;
    for (int32_t x = 0; x < s->out_w; ++x) {
      const int32_t ix0 = x * s->stride_w - s->pad_left;
      int8_t* o = out + (y * s->out_w + x) * C;
      int32_t c = 0;
      if (simd && row_in && ix0 >= 0 && ix0 + span_x < s->in_w) {
        c = utvm_blk_dw_pixel_x4(in + (iy0 * s->in_w + ix0) * C, off, taps, w, bias, C, rq, o);
      }
      utvm_blk_dw_pixel_scalar(in, w, bias, s, rq, iy0, ix0, c, o);
    }
  }
}

/* The 3x3 special case (s->k_h == s->k_w == 3): the tap count a constant the compiler unrolls. */
static inline void utvm_blk_dw3x3_s8(const int8_t* in, const int8_t* w, const int32_t* bias,
                                     const utvm_blk_dw_shape_t* s, const utvm_blk_rq_t* rq, int8_t* out) {
  const int32_t C = s->channels, dy = s->dil_h * s->in_w * C, dx = s->dil_w * C;
  const int32_t off[9] = {0, dx, 2 * dx, dy, dy + dx, dy + 2 * dx, 2 * dy, 2 * dy + dx, 2 * dy + 2 * dx};
  for (int32_t y = 0; y < s->out_h; ++y) {
    const int32_t iy0 = y * s->stride_h - s->pad_top;
    const int row_in = iy0 >= 0 && iy0 + 2 * s->dil_h < s->in_h;
    for (int32_t x = 0; x < s->out_w; ++x) {
      const int32_t ix0 = x * s->stride_w - s->pad_left;
      int8_t* o = out + (y * s->out_w + x) * C;
      int32_t c = 0;
      if (row_in && ix0 >= 0 && ix0 + 2 * s->dil_w < s->in_w) {
        c = utvm_blk_dw_pixel_x4(in + (iy0 * s->in_w + ix0) * C, off, 9, w, bias, C, rq, o);
      }
      utvm_blk_dw_pixel_scalar(in, w, bias, s, rq, iy0, ix0, c, o);
    }
  }
}

#ifdef __cplusplus
}
#endif
#endif /* UTVM_DSP_BLOCKED_DW_H_ */
