/* The portable build of utvm/dsp_blocked.h's layers (UTVM_BLK_PORTABLE), for blocked_check.c to
 * compare the SMLAD path with bit for bit in the same program. */
#define UTVM_BLK_PORTABLE 1
#include "blocked_twin.h"

#include "utvm/dsp_blocked_layers.h"

void blocked_twin_matmul(const int8_t* in, int32_t pixels, int32_t k, const int8_t* w, int32_t channels,
                         const int32_t* bias, const utvm_blk_rq_t* rq, int16_t* scratch, int8_t* out) {
  utvm_blk_matmul_s8(in, pixels, k, w, channels, bias, rq, scratch, out);
}

void blocked_twin_fc(const int8_t* in, int32_t k, const int8_t* w, int32_t channels, const int32_t* bias,
                     const utvm_blk_rq_t* rq, int8_t* out) {
  utvm_blk_fc_s8(in, k, w, channels, bias, rq, out);
}

void blocked_twin_dw(const int8_t* in, const int8_t* w, const int32_t* bias, const utvm_blk_dw_shape_t* s,
                     const utvm_blk_rq_t* rq, int8_t* zp_row, int8_t* out) {
  utvm_blk_dw_s8(in, w, bias, s, rq, zp_row, out);
}

void blocked_twin_dw3x3(const int8_t* in, const int8_t* w, const int32_t* bias, const utvm_blk_dw_shape_t* s,
                        const utvm_blk_rq_t* rq, int8_t* zp_row, int8_t* out) {
  utvm_blk_dw3x3_s8(in, w, bias, s, rq, zp_row, out);
}

void blocked_twin_conv(const int8_t* in, const int8_t* w, const int32_t* bias, const utvm_blk_conv_shape_t* s,
                       int32_t channels, const utvm_blk_rq_t* rq, int8_t* patch, int16_t* scratch, int8_t* out) {
  utvm_blk_conv_s8(in, w, bias, s, channels, rq, patch, scratch, out);
}
