/*
 * The entry points generated kernels call (harness/models/blocked.py): one call per layer, the
 * layer's constants as int32 arguments, so TVM's C codegen can emit the call from TIR. Included
 * from utvm/dsp_blocked.h. Return 0.
 */
#ifndef UTVM_DSP_BLOCKED_CALL_H_
#define UTVM_DSP_BLOCKED_CALL_H_

#include <stdint.h>

#include "utvm/dsp_blocked.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A 1x1 convolution or fully-connected layer (utvm_blk_matmul_s8), per-channel requantization;
 * scratch: 2 * k int16. */
static inline int32_t utvm_blk_matmul_call(const int8_t* in, const int8_t* w, const int32_t* bias,
                                           const int32_t* mult, const int32_t* shift, int16_t* scratch,
                                           int8_t* out, int32_t pixels, int32_t k, int32_t channels,
                                           int32_t out_zp, int32_t act_min, int32_t act_max) {
  const utvm_blk_rq_t rq = {mult, shift, 1, out_zp, act_min, act_max};
  utvm_blk_matmul_s8(in, pixels, k, w, channels, bias, &rq, scratch, out);
  return 0;
}

/* A depthwise layer (depth multiplier 1; the 3x3 special case where it applies); zp_row: channels
 * bytes of scratch. */
static inline int32_t utvm_blk_dw_call(const int8_t* in, const int8_t* w, const int32_t* bias,
                                       const int32_t* mult, const int32_t* shift, int8_t* zp_row, int8_t* out,
                                       int32_t in_h, int32_t in_w, int32_t channels, int32_t k_h,
                                       int32_t k_w, int32_t stride_h, int32_t stride_w, int32_t dil_h,
                                       int32_t dil_w, int32_t pad_top, int32_t pad_left, int32_t out_h,
                                       int32_t out_w, int32_t in_zp, int32_t out_zp, int32_t act_min,
                                       int32_t act_max) {
  const utvm_blk_rq_t rq = {mult, shift, 1, out_zp, act_min, act_max};
  const utvm_blk_dw_shape_t s = {in_h,    in_w,     channels, k_h,   k_w,   stride_h, stride_w,
                                 dil_h,   dil_w,    pad_top,  pad_left, out_h, out_w, in_zp};
  if (k_h == 3 && k_w == 3) return utvm_blk_dw3x3_s8(in, w, bias, &s, &rq, zp_row, out);
  return utvm_blk_dw_s8(in, w, bias, &s, &rq, zp_row, out);
}

#ifdef __cplusplus
}
#endif
#endif /* UTVM_DSP_BLOCKED_CALL_H_ */
