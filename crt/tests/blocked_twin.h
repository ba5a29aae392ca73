/* blocked_twin.c: utvm/dsp_blocked.h's layers built for the portable path. */
#ifndef UTVM_TESTS_BLOCKED_TWIN_H_
#define UTVM_TESTS_BLOCKED_TWIN_H_

#include "utvm/dsp_blocked_layers.h"

void blocked_twin_matmul(const int8_t* in, int32_t pixels, int32_t k, const int8_t* w, int32_t channels,
                         const int32_t* bias, const utvm_blk_rq_t* rq, int16_t* scratch, int8_t* out);
void blocked_twin_fc(const int8_t* in, int32_t k, const int8_t* w, int32_t channels, const int32_t* bias,
                     const utvm_blk_rq_t* rq, int8_t* out);
void blocked_twin_dw(const int8_t* in, const int8_t* w, const int32_t* bias, const utvm_blk_dw_shape_t* s,
                     const utvm_blk_rq_t* rq, int8_t* zp_row, int8_t* out);
void blocked_twin_dw3x3(const int8_t* in, const int8_t* w, const int32_t* bias, const utvm_blk_dw_shape_t* s,
                        const utvm_blk_rq_t* rq, int8_t* zp_row, int8_t* out);
void blocked_twin_conv(const int8_t* in, const int8_t* w, const int32_t* bias, const utvm_blk_conv_shape_t* s,
                       int32_t channels, const utvm_blk_rq_t* rq, int8_t* patch, int16_t* scratch, int8_t* out);

#endif
