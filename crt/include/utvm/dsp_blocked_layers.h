/*
 * Whole int8 layers on utvm/dsp_blocked.h's micro-kernels, with the entry points generated kernels
 * call (harness/models/blocked.py: one call per layer, its constants as int32 arguments, so TVM's C
 * codegen emits the call from TIR). All return 0, or -1 for a window the kernels refuse.
 *
 * General CONV_2D without im2col of the whole input: two output pixels' windows are gathered (int8,
 * the input zero point where the window leaves the input; OHWI order, the weights' row order) and
 * widened to int16 once, then the 2 channels x 2 pixels tiles of utvm_blk_matmul_rows run over them,
 * as CMSIS-NN's convolution does; an odd last pixel's gathered window runs as a fully-connected row
 * (utvm_blk_fc_s8). With input channels a multiple of 4 (any number on the SMLAL path, whose packed
 * pair has one word per k), each tap's channels are widened straight from the input (no gathered
 * copy; ic01's 3x3 layers).
 */
#ifndef UTVM_DSP_BLOCKED_LAYERS_H_
#define UTVM_DSP_BLOCKED_LAYERS_H_

#include <stdint.h>
#include <string.h>

#include "utvm/dsp_blocked.h"
#include "utvm/dsp_blocked_dw.h"
#include "utvm/dsp_blocked_fcp.h"    /* batch-1 fully connected on packed weights */
#include "utvm/dsp_blocked_rqpack.h" /* requantization constants stored narrow */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t in_h, in_w, in_c, k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
  int32_t out_h, out_w, in_zp;
} utvm_blk_conv_shape_t;

/* Output pixel p's window, [k_h, k_w, in_c] int8, into patch. */
static inline void utvm_blk_gather(const int8_t* in, const utvm_blk_conv_shape_t* s, int32_t p, int8_t* patch) {
  const int32_t C = s->in_c, iy0 = (p / s->out_w) * s->stride_h - s->pad_top;
  const int32_t ix0 = (p % s->out_w) * s->stride_w - s->pad_left, row = s->k_w * C;
  for (int32_t ty = 0; ty < s->k_h; ++ty, patch += row) {
    const int32_t iy = iy0 + ty * s->dil_h;
    if (iy < 0 || iy >= s->in_h) {
      memset(patch, s->in_zp, (size_t)row);
    } else if (s->dil_w == 1 && ix0 >= 0 && ix0 + s->k_w <= s->in_w) {
      memcpy(patch, in + (iy * s->in_w + ix0) * C, (size_t)row); /* the whole window row at once */
    } else {
      for (int32_t tx = 0; tx < s->k_w; ++tx) {
        const int32_t ix = ix0 + tx * s->dil_w;
        if (ix < 0 || ix >= s->in_w) {
          memset(patch + tx * C, s->in_zp, (size_t)C);
        } else {
          memcpy(patch + tx * C, in + (iy * s->in_w + ix) * C, (size_t)C);
        }
      }
    }
  }
}

/* Output pixel p's window row ty: the input row's start (NULL where the row leaves the input) and its
 * first column. */
static inline const int8_t* utvm_blk_window_row(const int8_t* in, const utvm_blk_conv_shape_t* s, int32_t p,
                                               int32_t ty, int32_t* ix0) {
  const int32_t iy = (p / s->out_w) * s->stride_h - s->pad_top + ty * s->dil_h;
  *ix0 = (p % s->out_w) * s->stride_w - s->pad_left;
  return iy < 0 || iy >= s->in_h ? NULL : in + iy * s->in_w * s->in_c;
}

/* Tap tx of a window row (utvm_blk_window_row): in_c input bytes, or zp's in_c bytes of the input
 * zero point where it leaves the input. */
static inline const int8_t* utvm_blk_tap(const int8_t* row, const utvm_blk_conv_shape_t* s, int32_t ix0,
                                        int32_t tx, const int8_t* zp) {
  const int32_t ix = ix0 + tx * s->dil_w;
  return row == NULL || ix < 0 || ix >= s->in_w ? zp : row + ix * s->in_c;
}

/* Output pixels p and p + 1's windows widened straight from the input into dst (utvm_blk_widen_pair_s8's
 * layout of their gathered windows), in_c a multiple of 4, so no gathered copy: a window row inside
 * the input at once, others tap by tap. zp: in_c bytes of the input zero point. */
static inline void utvm_blk_gather_widen_pair(const int8_t* in, const utvm_blk_conv_shape_t* s, int32_t p,
                                              const int8_t* zp, int16_t* dst) {
  const int32_t C = s->in_c, row = s->k_w * C;
  for (int32_t ty = 0; ty < s->k_h; ++ty, dst += 2 * row) {
    int32_t x0, x1;
    const int8_t *r0 = utvm_blk_window_row(in, s, p, ty, &x0), *r1 = utvm_blk_window_row(in, s, p + 1, ty, &x1);
    if (r0 != NULL && r1 != NULL && s->dil_w == 1 && x0 >= 0 && x1 >= 0 && x0 + s->k_w <= s->in_w &&
        x1 + s->k_w <= s->in_w) {
      utvm_blk_widen_pair_part(r0 + x0 * C, r1 + x1 * C, row, dst);
    } else {
      for (int32_t tx = 0; tx < s->k_w; ++tx) {
        utvm_blk_widen_pair_part(utvm_blk_tap(r0, s, x0, tx, zp), utvm_blk_tap(r1, s, x1, tx, zp), C,
                                 dst + 2 * tx * C);
      }
    }
  }
}

/* A convolution: in [in_h, in_w, in_c], w [channels, k_h, k_w, in_c], out [out_h, out_w, channels];
 * patch: 2 * K int8 and scratch: 2 * K int16 on a 4-byte boundary (K = k_h * k_w * in_c). */
static inline void utvm_blk_conv_s8(const int8_t* in, const int8_t* w, const int32_t* bias,
                                    const utvm_blk_conv_shape_t* s, int32_t channels, const utvm_blk_rq_t* rq,
                                    int8_t* patch, int16_t* scratch, int8_t* out) {
  const int32_t k = s->k_h * s->k_w * s->in_c, pixels = s->out_h * s->out_w;
  int32_t p = 0;
#if UTVM_BLK_MVE
  (void)scratch; /* the gathered int8 windows are the rows */
  for (; p + 2 <= pixels; p += 2) {
    utvm_blk_gather(in, s, p, patch);
    utvm_blk_gather(in, s, p + 1, patch + k);
    utvm_blk_mve_rows(patch, patch + k, w, k, bias, channels, rq, out + p * channels, out + (p + 1) * channels);
  }
  if (p < pixels) {
    utvm_blk_gather(in, s, p, patch);
    utvm_blk_mve_row(patch, w, k, bias, channels, rq, out + p * channels);
  }
#else
  const utvm_blk_frq_t f = utvm_blk_frq(rq, channels);
  const int direct = s->in_c % 4 == 0 || UTVM_BLK_SMLAL; /* (the SMLAL path packs any run of k) */
  if (direct) memset(patch, s->in_zp, (size_t)s->in_c); /* the padding's bytes */
  for (; p + 2 <= pixels; p += 2) {
    if (direct) {
      utvm_blk_gather_widen_pair(in, s, p, patch, scratch);
    } else {
      utvm_blk_gather(in, s, p, patch);
      utvm_blk_gather(in, s, p + 1, patch + k);
      utvm_blk_widen_pair_s8(patch, patch + k, k, scratch);
    }
    utvm_blk_matmul_rows(scratch, w, k, bias, channels, rq, &f, out + p * channels, out + (p + 1) * channels);
  }
  if (p < pixels) { /* the last pixel alone: its gathered window as a fully-connected row */
    utvm_blk_gather(in, s, p, patch);
    utvm_blk_fc_s8(patch, k, w, channels, bias, rq, out + p * channels);
  }
#endif
}

/* A 1x1 convolution or fully-connected layer (utvm_blk_matmul_s8); per_channel 0: mult[0], shift[0]
 * for every channel. scratch: 2 * k int16 on a 4-byte boundary (the Thumb-2 tiles read it with LDM and
 * write it with STRD; the generated kernels allocate it as k int32). */
static inline int32_t utvm_blk_matmul_call(const int8_t* in, const int8_t* w, const int32_t* bias,
                                           const int32_t* mult, const int8_t* shift, void* scratch,
                                           int8_t* out, int32_t pixels, int32_t k, int32_t channels,
                                           int32_t per_channel, int32_t out_zp, int32_t act_min, int32_t act_max) {
  const utvm_blk_rq_t rq = {mult, shift, per_channel, out_zp, act_min, act_max};
  utvm_blk_matmul_s8(in, pixels, k, w, channels, bias, &rq, (int16_t*)scratch, out);
  return 0;
}

/* A fully-connected layer of one pixel (utvm_blk_fc_s8): no scratch, the int8 input row read as it is.
 * packed 1: weights and bias packed on the SMLAD path (utvm_blk_fcp_s8, utvm/dsp_blocked_fcp.h). */
static inline int32_t utvm_blk_fc_call(const int8_t* in, const int8_t* w, const int32_t* bias, const int32_t* mult,
                                       const int8_t* shift, int8_t* out, int32_t k, int32_t channels,
                                       int32_t per_channel, int32_t out_zp, int32_t act_min, int32_t act_max,
                                       int32_t packed) {
  const utvm_blk_rq_t rq = {mult, shift, per_channel, out_zp, act_min, act_max};
#if UTVM_BLK_FCP_PACKED
  if (packed) {
    utvm_blk_fcp_s8(in, k, w, channels, bias, &rq, out);
    return 0;
  }
#endif
  (void)packed;
  utvm_blk_fc_s8(in, k, w, channels, bias, &rq, out);
  return 0;
}

/* A convolution (utvm_blk_conv_s8), per-channel requantization; scratch on a 4-byte boundary, as
 * utvm_blk_matmul_call's. */
static inline int32_t utvm_blk_conv_call(const int8_t* in, const int8_t* w, const int32_t* bias,
                                         const int32_t* mult, const int8_t* shift, int8_t* patch,
                                         void* scratch, int8_t* out, int32_t in_h, int32_t in_w, int32_t in_c,
                                         int32_t channels, int32_t k_h, int32_t k_w, int32_t stride_h,
                                         int32_t stride_w, int32_t dil_h, int32_t dil_w, int32_t pad_top,
                                         int32_t pad_left, int32_t out_h, int32_t out_w, int32_t in_zp,
                                         int32_t out_zp, int32_t act_min, int32_t act_max) {
  const utvm_blk_rq_t rq = {mult, shift, 1, out_zp, act_min, act_max};
  const utvm_blk_conv_shape_t s = {in_h,  in_w,  in_c,    k_h,      k_w,   stride_h, stride_w,
                                   dil_h, dil_w, pad_top, pad_left, out_h, out_w,    in_zp};
  utvm_blk_conv_s8(in, w, bias, &s, channels, &rq, patch, (int16_t*)scratch, out);
  return 0;
}

/* A depthwise layer (depth multiplier 1; the 3x3 special case where it applies); zp_row: channels
 * bytes of scratch. */
static inline int32_t utvm_blk_dw_call(const int8_t* in, const int8_t* w, const int32_t* bias,
                                       const int32_t* mult, const int8_t* shift, int8_t* zp_row, int8_t* out,
                                       int32_t in_h, int32_t in_w, int32_t channels, int32_t k_h,
                                       int32_t k_w, int32_t stride_h, int32_t stride_w, int32_t dil_h,
                                       int32_t dil_w, int32_t pad_top, int32_t pad_left, int32_t out_h,
                                       int32_t out_w, int32_t in_zp, int32_t out_zp, int32_t act_min,
                                       int32_t act_max) {
  const utvm_blk_rq_t rq = {mult, shift, 1, out_zp, act_min, act_max};
  const utvm_blk_dw_shape_t s = {in_h,  in_w,  channels, k_h,      k_w,   stride_h, stride_w,
                                 dil_h, dil_w, pad_top,  pad_left, out_h, out_w,    in_zp};
  if (k_h == 3 && k_w == 3) return utvm_blk_dw3x3_s8(in, w, bias, &s, &rq, zp_row, out);
  return utvm_blk_dw_s8(in, w, bias, &s, &rq, zp_row, out);
}

/* utvm_blk_dw_call as a statement, the 3x3 plane kernel expanded in place (UTVM_BLK_DW3_PLANE, SMLAD
 * and portable paths): the generated kernels call their depthwise layers through it
 * (harness.models.compile.blocked.with_blocked_header), each specialised to its literal shapes. */
#define UTVM_BLK_DW_CALL(in, w, bias, mult, shift, zp_row, out, in_h, in_w, channels, k_h, k_w, stride_h,              \
                         stride_w, dil_h, dil_w, pad_top, pad_left, out_h, out_w, in_zp, out_zp, act_min, act_max)     \
  do {                                                                                                                 \
    const utvm_blk_rq_t rq_call_ = {(mult), (shift), 1, (out_zp), (act_min), (act_max)};                               \
    const utvm_blk_dw_shape_t s_call_ = {(in_h),  (in_w),  (channels), (k_h),     (k_w),      (stride_h), (stride_w),  \
                                         (dil_h), (dil_w), (pad_top),  (pad_left), (out_h), (out_w),    (in_zp)};      \
    if (!UTVM_BLK_MVE && (k_h) == 3 && (k_w) == 3 && (dil_h) == 1 && (dil_w) == 1) {                                   \
      UTVM_BLK_DW3_PLANE((in), (w), (bias), &s_call_, &rq_call_, (zp_row), (out));                                     \
    } else if ((k_h) == 3 && (k_w) == 3) {                                                                             \
      (void)utvm_blk_dw3x3_s8((in), (w), (bias), &s_call_, &rq_call_, (zp_row), (out));                                \
    } else {                                                                                                           \
      (void)utvm_blk_dw_s8((in), (w), (bias), &s_call_, &rq_call_, (zp_row), (out));                                   \
    }                                                                                                                  \
  } while (0)

#ifdef __cplusplus
}
#endif
#endif /* UTVM_DSP_BLOCKED_LAYERS_H_ */
