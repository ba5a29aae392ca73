/*
 * Requantization of int32 accumulators to int8 (header-only), bit-exact with TFLite Micro's
 * MultiplyByQuantizedMultiplier (double rounding, tensorflow/lite/kernels/internal/common.h):
 *
 *     x * 2^max(shift, 0), wrapping  ->  SaturatingRoundingDoublingHighMul(., multiplier)
 *                                     ->  RoundingDivideByPOT(., max(-shift, 0))
 *
 * then + output offset, clamped to [act_min, act_max], narrowed to int8. shift lies in -31..31.
 *
 * utvm_requant_s32 / utvm_requant_s8 are the scalar versions (every core). On Helium cores
 * (__ARM_FEATURE_MVE) utvm_mve_requant_s32x4 does four lanes at once: VQRDMULH is gemmlowp's
 * SaturatingRoundingDoublingHighMul exactly (round(2ab / 2^32), halves up, saturating only for
 * INT32_MIN * INT32_MIN); VRSHL rounds halves up where RoundingDivideByPOT rounds them away from
 * zero, so a negative dividend is first lowered by one when it is shifted (CMSIS-NN's fix-up; the
 * saturating add leaves INT32_MIN, which divides exactly, as it is). utvm_requant_s32x4 and
 * utvm_requant_s8_n use it there and the scalar version elsewhere.
 */
#ifndef UTVM_REQUANT_H_
#define UTVM_REQUANT_H_

#include <stdint.h>

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define UTVM_REQUANT_MVE 1
#else
#define UTVM_REQUANT_MVE 0
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* gemmlowp's SaturatingRoundingDoublingHighMul: round(a * b / 2^31), halves away from zero. */
static inline int32_t utvm_srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  int64_t ab = (int64_t)a * (int64_t)b;
  int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : 1 - ((int64_t)1 << 30);
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* C division truncates toward zero */
}

/* gemmlowp's RoundingDivideByPOT: x / 2^exponent (0..31), rounded to nearest, halves away from 0. */
static inline int32_t utvm_rounding_divide_by_pot(int32_t x, int32_t exponent) {
  int32_t mask = (int32_t)((1u << exponent) - 1u);
  int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + ((x & mask) > threshold ? 1 : 0);
}

/* TFLite's MultiplyByQuantizedMultiplier; the left shift wraps as TFLite's `x * (1 << s)` does
 * wherever that is defined (written on the bits, so it is defined C everywhere). */
static inline int32_t utvm_requant_s32(int32_t x, int32_t multiplier, int32_t shift) {
  uint32_t up = (uint32_t)x << (shift > 0 ? shift : 0);
  int32_t shifted = up <= (uint32_t)INT32_MAX ? (int32_t)up : (int32_t)(up - 2147483648u) - INT32_MAX - 1;
  return utvm_rounding_divide_by_pot(utvm_srdhm(shifted, multiplier), shift > 0 ? 0 : -shift);
}

/* One output: the accumulator rescaled, offset, clamped and narrowed. */
static inline int8_t utvm_requant_s8(int32_t acc, int32_t multiplier, int32_t shift,
                                     int32_t out_offset, int32_t act_min, int32_t act_max) {
  int32_t v = utvm_requant_s32(acc, multiplier, shift) + out_offset;
  v = v < act_min ? act_min : v;
  return (int8_t)(v > act_max ? act_max : v);
}

#if UTVM_REQUANT_MVE
/* utvm_requant_s32 on four lanes. */
static inline int32x4_t utvm_mve_requant_s32x4(int32x4_t x, int32x4_t multiplier, int32x4_t shift) {
  int32x4_t zero = vdupq_n_s32(0);
  int32x4_t right = vminq_s32(shift, zero); /* -max(-shift, 0): VRSHL shifts right by minus it */
  int32x4_t high = vqrdmulhq_s32(vshlq_s32(x, vmaxq_s32(shift, zero)), multiplier);
  int32x4_t fixup = vshrq_n_s32(vandq_s32(high, right), 31); /* -1 where high < 0 and right < 0 */
  return vrshlq_s32(vqaddq_s32(high, fixup), right);
}

/* Offset, clamp (the lanes stay int32; VSTRB narrows them). */
static inline int32x4_t utvm_mve_clamp_s32x4(int32x4_t v, int32_t out_offset, int32_t act_min,
                                             int32_t act_max) {
  return vminq_s32(vmaxq_s32(vaddq_n_s32(v, out_offset), vdupq_n_s32(act_min)), vdupq_n_s32(act_max));
}
#endif

/* Four outputs (four channels with their own multiplier and shift). */
static inline void utvm_requant_s32x4(const int32_t* acc, const int32_t* multiplier,
                                      const int32_t* shift, int32_t out_offset, int32_t act_min,
                                      int32_t act_max, int8_t* out) {
#if UTVM_REQUANT_MVE
  int32x4_t v = utvm_mve_requant_s32x4(vldrwq_s32(acc), vldrwq_s32(multiplier), vldrwq_s32(shift));
  vstrbq_s32(out, utvm_mve_clamp_s32x4(v, out_offset, act_min, act_max));
#else
  for (int i = 0; i < 4; ++i) {
    out[i] = utvm_requant_s8(acc[i], multiplier[i], shift[i], out_offset, act_min, act_max);
  }
#endif
}

/* n outputs (n channels): four lanes at a time, the last n % 4 tail-predicated on Helium. */
static inline void utvm_requant_s8_n(const int32_t* acc, const int32_t* multiplier,
                                     const int32_t* shift, int32_t out_offset, int32_t act_min,
                                     int32_t act_max, int32_t n, int8_t* out) {
#if UTVM_REQUANT_MVE
  for (int32_t i = 0; i < n; i += 4) {
    mve_pred16_t p = vctp32q((uint32_t)(n - i));
    int32x4_t v = utvm_mve_requant_s32x4(vldrwq_z_s32(acc + i, p), vldrwq_z_s32(multiplier + i, p),
                                         vldrwq_z_s32(shift + i, p));
    vstrbq_p_s32(out + i, utvm_mve_clamp_s32x4(v, out_offset, act_min, act_max), p);
  }
#else
  for (int32_t i = 0; i < n; ++i) {
    out[i] = utvm_requant_s8(acc[i], multiplier[i], shift[i], out_offset, act_min, act_max);
  }
#endif
}

#ifdef __cplusplus
}
#endif
#endif /* UTVM_REQUANT_H_ */
