/*
 * A layer's per-channel requantization constants stored as narrow as they need to be
 * (harness/models/compile/rq_pack.py writes them; the generated kernel unpacks them into its own
 * stack buffers before its blocked call, so every micro-kernel reads the usual tables):
 *
 *   word[c]   multiplier - 2^30 in bits 0..29 (a TFLite Q31 multiplier lies in [2^30, 2^31): bit 30
 *             is always set and bit 31 clear), bits 0..1 of the shift's offset in bits 30..31;
 *   half[c]   r, a 15-bit two's complement number in bits 0..14, bit 2 of the shift's offset in
 *             bit 15;
 *   shift[c]  = base + offset (0..7);
 *   bias[c]   = r - zp * (the sum of channel c's weights): the kernels' bias has the input zero
 *             point folded in (about 20 bits wide), the model's own bias is r at zp = the input's
 *             zero point (15 bits for the MLPerf Tiny models), and the weights are in flash anyway.
 *
 * base and zp are literals of the call. 6 bytes per channel instead of 9 (int32 bias, int32
 * multiplier, int8 shift), for one pass over the layer's weights per call (four per three
 * instructions on the SMLAD path: SXTAB16 into halfword sums; elsewhere a word's bytes offset by 128
 * and added two per 16-bit lane). Layers whose constants do not fit keep
 * the usual tables. Exact: rq_pack.py stores a layer only where these tables come back bit for bit.
 */
#ifndef UTVM_DSP_BLOCKED_RQPACK_H_
#define UTVM_DSP_BLOCKED_RQPACK_H_

#include <stdint.h>

#include "utvm/dsp_blocked.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The sum of k int8 at w, w + stride, ... */
static inline int32_t utvm_blk_rq_sum(const int8_t* w, int32_t k, int32_t stride) {
  int32_t sum = 0, i = 0;
#if UTVM_BLK_SIMD
  while (stride == 1 && i + 4 <= k) { /* halfword lanes, 255 words at most: |sum| <= 255 * 128 */
    const int32_t end = k - i > 1020 ? i + 1020 : i + (k - i) / 4 * 4;
    int32_t even = 0, odd = 0;
    for (; i < end; i += 4) {
      const uint32_t v = utvm_blk_ld32(w + i);
      even = __sxtab16(even, utvm_blk_s32(v)), odd = __sxtab16(odd, utvm_blk_s32((v >> 8) | (v << 24)));
    }
    sum += (int16_t)(uint16_t)((uint32_t)even & 0xFFFFu) + (int16_t)(uint16_t)((uint32_t)even >> 16);
    sum += (int16_t)(uint16_t)((uint32_t)odd & 0xFFFFu) + (int16_t)(uint16_t)((uint32_t)odd >> 16);
  }
#else
  while (stride == 1 && i + 4 <= k) { /* bytes offset by 128 (unsigned), two per 16-bit lane, 128 words */
    const int32_t end = k - i > 512 ? i + 512 : i + (k - i) / 4 * 4;
    uint32_t lanes = 0;
    const int32_t n = end - i;
    for (; i < end; i += 4) {
      const uint32_t v = utvm_blk_ld32(w + i) ^ 0x80808080u;
      lanes += (v & 0x00FF00FFu) + ((v >> 8) & 0x00FF00FFu);
    }
    sum += (int32_t)((lanes & 0xFFFFu) + (lanes >> 16)) - 128 * n;
  }
#endif
  for (; i < k; ++i) sum += w[i * stride];
  return sum;
}

/* Channel c's weights are w[c * channel_stride + t * tap_stride], t < k (a convolution's rows: k, 1; a
 * depthwise layer's [taps, channels]: 1, channels). */
static inline int32_t utvm_blk_rq_unpack(const int16_t* half, const int32_t* word, const int8_t* w, int32_t base,
                                         int32_t zp, int32_t channels, int32_t k, int32_t channel_stride,
                                         int32_t tap_stride, int32_t* bias, int32_t* mult, int8_t* shift) {
  for (int32_t c = 0; c < channels; ++c) {
    const uint32_t u = (uint32_t)word[c], h = (uint32_t)(uint16_t)half[c];
    const uint32_t r = ((h & 0x7FFFu) ^ 0x4000u) - 0x4000u; /* sign-extended from bit 14 */
    const uint32_t sum = (uint32_t)utvm_blk_rq_sum(w + c * channel_stride, k, tap_stride);
    mult[c] = (int32_t)((u & 0x3FFFFFFFu) | 0x40000000u);
    shift[c] = (int8_t)(base + (int32_t)((u >> 30) | (h >> 15) << 2));
    bias[c] = utvm_blk_s32(r - (uint32_t)zp * sum);
  }
  return 0;
}

#ifdef __cplusplus
}
#endif
#endif /* UTVM_DSP_BLOCKED_RQPACK_H_ */
