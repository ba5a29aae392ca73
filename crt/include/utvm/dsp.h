/*
 * int8 dot-product and depthwise micro-kernels for model kernels (header-only).
 *
 * On cores with Helium (Cortex-M55, M85: __ARM_FEATURE_MVE) the kernels are utvm/dsp_mve.h's (16
 * int8 pairs per VMLADAVA). On other cores with the DSP extension (Cortex-M4, M7, M33, an M55 built
 * without MVE: __ARM_FEATURE_DSP) four int8 pairs go through two dual 16-bit multiply-accumulates
 * (SMLAD) after sign-extending bytes 0,2 and 1,3 (SXTB16, SXTB16 ROR #8); elsewhere (Cortex-M3, the
 * host) a portable loop. All paths give identical results: int32 sums that wrap on overflow exactly
 * as SMLAD does. No input offset is applied: callers fold the input zero point into the bias.
 *
 * Pointers may have any alignment: four bytes are read with memcpy, which GCC turns into
 * one LDR on cores that allow unaligned word loads. n may be any length >= 0; the last
 * n % 4 elements take the scalar path.
 */
#ifndef UTVM_DSP_H_
#define UTVM_DSP_H_

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define UTVM_DSP_MVE 1
#define UTVM_DSP_SIMD 0
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#define UTVM_DSP_MVE 0
#define UTVM_DSP_SIMD 1
#else
#define UTVM_DSP_MVE 0
#define UTVM_DSP_SIMD 0
#endif
#include "utvm/dsp_mve.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The int32 whose two's-complement bits are u (no implementation-defined conversion). */
static inline int32_t utvm_dsp_s32(uint32_t u) {
  return u <= (uint32_t)INT32_MAX ? (int32_t)u : (int32_t)(u - 2147483648u) - INT32_MAX - 1;
}

/* The product of two int8, as the uint32 a wrapping sum adds. */
static inline uint32_t utvm_dsp_mul(int8_t a, int8_t b) { return (uint32_t)((int32_t)a * (int32_t)b); }

#if !UTVM_DSP_MVE /* the SMLAD and portable kernels (dsp_mve.h has the Helium ones) */

#if UTVM_DSP_SIMD
/* Four bytes from any address, as SXTB16 takes them. */
static inline int32_t utvm_dsp_load4(const int8_t* p) {
  int32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* Bytes 1 and 3 of v, sign-extended to two halfwords (SXTB16 ROR #8). */
static inline int16x2_t utvm_dsp_odd(int32_t v) {
  uint32_t u = (uint32_t)v;
  return __sxtb16(utvm_dsp_s32((u >> 8) | (u << 24)));
}
#endif

/* acc + sum a[i] * b[i] for i in [0, n). */
static inline int32_t utvm_dot_s8(const int8_t* a, const int8_t* b, int32_t n, int32_t acc) {
  int32_t i = 0;
#if UTVM_DSP_SIMD
  for (; i + 4 <= n; i += 4) {
    int32_t va = utvm_dsp_load4(a + i), vb = utvm_dsp_load4(b + i);
    acc = __smlad(__sxtb16(va), __sxtb16(vb), acc);
    acc = __smlad(utvm_dsp_odd(va), utvm_dsp_odd(vb), acc);
  }
#endif
  uint32_t sum = (uint32_t)acc;
  for (; i < n; ++i) sum += utvm_dsp_mul(a[i], b[i]);
  return utvm_dsp_s32(sum);
}

/* Two outputs sharing the vector a: acc[r] += sum a[i] * b[r * b_stride + i], r = 0, 1
 * (b: two rows of weights b_stride elements apart; acc: two consecutive int32). */
static inline void utvm_dot_s8_x2(const int8_t* a, const int8_t* b, int32_t b_stride, int32_t n,
                                  int32_t* acc) {
  const int8_t* b1 = b + b_stride;
  int32_t i = 0;
#if UTVM_DSP_SIMD
  int32_t s0 = acc[0], s1 = acc[1];
  for (; i + 4 <= n; i += 4) {
    int32_t va = utvm_dsp_load4(a + i), w0 = utvm_dsp_load4(b + i), w1 = utvm_dsp_load4(b1 + i);
    int16x2_t even = __sxtb16(va), odd = utvm_dsp_odd(va);
    s0 = __smlad(even, __sxtb16(w0), s0);
    s0 = __smlad(odd, utvm_dsp_odd(w0), s0);
    s1 = __smlad(even, __sxtb16(w1), s1);
    s1 = __smlad(odd, utvm_dsp_odd(w1), s1);
  }
  uint32_t u0 = (uint32_t)s0, u1 = (uint32_t)s1;
#else
  uint32_t u0 = (uint32_t)acc[0], u1 = (uint32_t)acc[1];
#endif
  for (; i < n; ++i) {
    u0 += utvm_dsp_mul(a[i], b[i]);
    u1 += utvm_dsp_mul(a[i], b1[i]);
  }
  acc[0] = utvm_dsp_s32(u0);
  acc[1] = utvm_dsp_s32(u1);
}

/* Four outputs sharing the vector a: acc[r] += sum a[i] * b[r * b_stride + i], r = 0..3. */
static inline void utvm_dot_s8_x4(const int8_t* a, const int8_t* b, int32_t b_stride, int32_t n,
                                  int32_t* acc) {
  const int8_t* b1 = b + b_stride;
  const int8_t* b2 = b1 + b_stride;
  const int8_t* b3 = b2 + b_stride;
  int32_t i = 0;
#if UTVM_DSP_SIMD
  int32_t s0 = acc[0], s1 = acc[1], s2 = acc[2], s3 = acc[3];
  for (; i + 4 <= n; i += 4) {
    int32_t va = utvm_dsp_load4(a + i);
    int16x2_t even = __sxtb16(va), odd = utvm_dsp_odd(va);
    int32_t w = utvm_dsp_load4(b + i);
    s0 = __smlad(odd, utvm_dsp_odd(w), __smlad(even, __sxtb16(w), s0));
    w = utvm_dsp_load4(b1 + i);
    s1 = __smlad(odd, utvm_dsp_odd(w), __smlad(even, __sxtb16(w), s1));
    w = utvm_dsp_load4(b2 + i);
    s2 = __smlad(odd, utvm_dsp_odd(w), __smlad(even, __sxtb16(w), s2));
    w = utvm_dsp_load4(b3 + i);
    s3 = __smlad(odd, utvm_dsp_odd(w), __smlad(even, __sxtb16(w), s3));
  }
  uint32_t u0 = (uint32_t)s0, u1 = (uint32_t)s1, u2 = (uint32_t)s2, u3 = (uint32_t)s3;
#else
  uint32_t u0 = (uint32_t)acc[0], u1 = (uint32_t)acc[1], u2 = (uint32_t)acc[2], u3 = (uint32_t)acc[3];
#endif
  for (; i < n; ++i) {
    u0 += utvm_dsp_mul(a[i], b[i]);
    u1 += utvm_dsp_mul(a[i], b1[i]);
    u2 += utvm_dsp_mul(a[i], b2[i]);
    u3 += utvm_dsp_mul(a[i], b3[i]);
  }
  acc[0] = utvm_dsp_s32(u0);
  acc[1] = utvm_dsp_s32(u1);
  acc[2] = utvm_dsp_s32(u2);
  acc[3] = utvm_dsp_s32(u3);
}

/* Depthwise multiply-accumulate over a tile of taps, channels innermost (NHWC input, [1, KH, KW, C]
 * weights): acc[c] += sum in[y * in_row + x * in_col + c] * w[y * w_row + x * w_col + c] for
 * y < kh, x < kw, c < channels. Sums wrap as the dot products' do. */
static inline void utvm_dw_mac_s8(const int8_t* in, int32_t in_col, int32_t in_row, const int8_t* w,
                                  int32_t w_col, int32_t w_row, int32_t kh, int32_t kw,
                                  int32_t channels, int32_t* acc) {
  for (int32_t c = 0; c < channels; ++c) {
    uint32_t sum = (uint32_t)acc[c];
    for (int32_t y = 0; y < kh; ++y) {
      for (int32_t x = 0; x < kw; ++x) {
        sum += utvm_dsp_mul(in[y * in_row + x * in_col + c], w[y * w_row + x * w_col + c]);
      }
    }
    acc[c] = utvm_dsp_s32(sum);
  }
}
#endif /* !UTVM_DSP_MVE */

#ifdef __cplusplus
}
#endif
#endif /* UTVM_DSP_H_ */
