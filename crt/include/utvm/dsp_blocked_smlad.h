/*
 * The SMLAD inner loops of utvm/dsp_blocked.h's tiles (cores with the DSP extension: Cortex-M4, M7,
 * M33; header-only, included from utvm/dsp_blocked.h), over the groups of four k of a row.
 *
 * No SXTB16 of a rotated word (GCC spells the rotation as a separate MOV): a word of weights
 * w0 w1 w2 w3 gives its even bytes with SXTB16 (w0, w2) and its odd bytes times 256 with one AND
 * (0xFF00FF00: 256 w1, 256 w3, exact int16). The widened inputs carry the other factor (256 b0,
 * 256 b2, b1, b3 per group: utvm_blk_widen4), so each SMLAD adds 256 times its products. The sums
 * start from 0 and stay below 2^31 over runs of at most UTVM_BLK_RUN k (256 * 2^14 per product);
 * one arithmetic shift by 8 (exact: multiples of 256) brings each run into the accumulators, which
 * wrap as the portable uint32 sums do: same bits. The 2 x 2 tile takes two groups per pass, and a
 * row of at most UTVM_BLK_RUN k in one run outside the loop over runs (GCC allocates it better).
 */
#include "utvm/dsp_blocked.h" /* first: it includes this header where its helpers are defined */
#ifndef UTVM_DSP_BLOCKED_SMLAD_H_
#define UTVM_DSP_BLOCKED_SMLAD_H_

#include <stdint.h>
#include <string.h>

#include "utvm/dsp_blocked_asm.h" /* UTVM_BLK_ASM_FN */

#if UTVM_BLK_SIMD
#ifdef __cplusplus
extern "C" {
#endif

#define UTVM_BLK_RUN 504 /* k per scaled sum: 256 * 2^14 * 504 < 2^31 */

/* The odd weights of a word times 256. */
static inline int32_t utvm_blk_w_odd256(uint32_t v) { return utvm_blk_s32(v & 0xFF00FF00u); }

/* Four bytes widened as (256 b0, 256 b2, b1, b3). */
static inline void utvm_blk_widen4(const int8_t* src, int16_t* dst) {
  const uint32_t v = utvm_blk_ld32(src);
  const uint32_t e = (v << 8) & 0xFF00FF00u;
  const int32_t o = utvm_blk_odd(v);
  memcpy(dst, &e, sizeof e);
  memcpy(dst + 2, &o, sizeof o);
}

/* The scaled sums back: acc + s / 256 (s a multiple of 256: GCC's and Clang's arithmetic shift is
 * exact), wrapping. */
static inline int32_t utvm_blk_unscale(int32_t acc, int32_t s) {
  return utvm_blk_s32((uint32_t)acc + (uint32_t)(s >> 8));
}

#if defined(__thumb2__) && defined(__GNUC__)
/* One group of four k of the 2 x 2 tile (also utvm/dsp_blocked_row.h's): the pair's eight int16 in r4-r7 (LDM), each row's weight word
 * in r12 split into its even bytes (lr, SXTB16) and its odd bytes times 256 (r12, AND), eight SMLAD
 * into s00 r8, s01 r9, s10 r10, s11 r11. */
#define UTVM_BLK_ASM_GROUP                                                                          \
  "ldm r0!, {r4-r7}\n\tldr r12, [r1], #4\n\tsxtb16 lr, r12\n\tand r12, r12, #0xFF00FF00\n\t" \
  "smlad r8, r4, lr, r8\n\tsmlad r10, r6, lr, r10\n\tsmlad r8, r5, r12, r8\n\t"                  \
  "smlad r10, r7, r12, r10\n\tldr r12, [r2], #4\n\tsxtb16 lr, r12\n\tand r12, r12, #0xFF00FF00\n\t" \
  "smlad r9, r4, lr, r9\n\tsmlad r11, r6, lr, r11\n\tsmlad r9, r5, r12, r9\n\tsmlad r11, r7, r12, r11\n\t"

/* The groups loop: after an LSRS that leaves the number of groups halved in r3 and its last bit in C,
 * an odd group, an odd pair of groups, then four per pass; ends at local label 3 (LDM, LDR, SXTB16,
 * AND and SMLAD leave the flags). */
#define UTVM_BLK_ASM_GROUPS                                                                   \
  "bcc 1f\n\t" UTVM_BLK_ASM_GROUP "1:\n\tlsrs r3, r3, #1\n\tbcc 2f\n\t" UTVM_BLK_ASM_GROUP          \
  UTVM_BLK_ASM_GROUP "2:\n\tbeq 3f\n4:\n\t" UTVM_BLK_ASM_GROUP UTVM_BLK_ASM_GROUP UTVM_BLK_ASM_GROUP \
  UTVM_BLK_ASM_GROUP "subs r3, r3, #1\n\tbne 4b\n3:\n\t"

/* The scaled sums of `groups` (>= 0) groups of four k of the 2 x 2 tile into sums[0..3] (s00, s01,
 * s10, s11): the pair a, weight rows w0 and w1. All of r0-r12 and lr, so written out whole: one
 * LDM of the pair, two weight loads, four SXTB16 / AND and eight SMLAD per group (15 instructions for
 * 16 MACs), four groups per pass. */
UTVM_BLK_ASM_FN static void utvm_blk_smlad_2x2_asm(UTVM_BLK_ARG const int16_t* a, UTVM_BLK_ARG const int8_t* w0,
                                                   UTVM_BLK_ARG const int8_t* w1, UTVM_BLK_ARG int32_t groups,
                                                   UTVM_BLK_ARG int32_t* sums) {
  __asm__ volatile(
      "push {r4-r11, lr}\n\t"
      "movs r8, #0\n\tmovs r9, #0\n\tmovs r10, #0\n\tmovs r11, #0\n\t"
      "lsrs r3, r3, #1\n\t" UTVM_BLK_ASM_GROUPS
      "ldr r0, [sp, #36]\n\tstm r0, {r8-r11}\n\tpop {r4-r11, pc}\n");
}

/* The scaled sums of `run` k (a multiple of 4, at most UTVM_BLK_RUN) of the 2 x 2 tile into acc, by
 * the asm loop. */
#define UTVM_BLK_ASM_RUN_2X2(run)                                                   \
  do {                                                                              \
    int32_t s[4];                                                                   \
    const int32_t g = (run) >> 2;                                                   \
    utvm_blk_smlad_2x2_asm(a, w0, w0 + d, g, s);                                    \
    a += 8 * g, w0 += 4 * g;                                                        \
    acc[0] = utvm_blk_unscale(acc[0], s[0]), acc[1] = utvm_blk_unscale(acc[1], s[1]); \
    acc[2] = utvm_blk_unscale(acc[2], s[2]), acc[3] = utvm_blk_unscale(acc[3], s[3]); \
  } while (0)
#define UTVM_BLK_ASM_MIN_K 16 /* shorter rows: the C loop below, inlined, costs less than the call */
#else
#define UTVM_BLK_ASM_MIN_K INT32_MAX /* no asm loop: the C one */
#define UTVM_BLK_ASM_RUN_2X2 UTVM_BLK_RUN_2X2
#endif

/* One group of the 2 x 2 tile: pair x (eight int16), weight words at w and w + d. */
#define UTVM_BLK_GROUP_2X2(x, w)                                                                \
  do {                                                                                          \
    const int32_t ae = utvm_blk_s32(utvm_blk_ld32(x)), ao = utvm_blk_s32(utvm_blk_ld32((x) + 2)); \
    const int32_t be = utvm_blk_s32(utvm_blk_ld32((x) + 4)), bo = utvm_blk_s32(utvm_blk_ld32((x) + 6)); \
    uint32_t v = utvm_blk_ld32(w);                                                              \
    int32_t we = utvm_blk_even(v), wo = utvm_blk_w_odd256(v);                              \
    s00 = __smlad(ao, wo, __smlad(ae, we, s00));                                                \
    s10 = __smlad(bo, wo, __smlad(be, we, s10));                                                \
    v = utvm_blk_ld32((w) + d);                                                                 \
    we = utvm_blk_even(v), wo = utvm_blk_w_odd256(v);                                      \
    s01 = __smlad(ao, wo, __smlad(ae, we, s01));                                                \
    s11 = __smlad(bo, wo, __smlad(be, we, s11));                                                \
  } while (0)

/* The scaled sums of `run` k (a multiple of 4, at most UTVM_BLK_RUN) of the 2 x 2 tile into acc. */
#define UTVM_BLK_RUN_2X2(run)                                 \
  do {                                                        \
    int32_t s00 = 0, s01 = 0, s10 = 0, s11 = 0;               \
    for (int32_t n = (run) >> 3; n > 0; --n, w0 += 8, a += 16) { \
      UTVM_BLK_GROUP_2X2(a, w0);                           \
      UTVM_BLK_GROUP_2X2(a + 8, w0 + 4);                   \
    }                                                         \
    if ((run) & 4) {                                          \
      UTVM_BLK_GROUP_2X2(a, w0);                           \
      w0 += 4, a += 8;                                        \
    }                                                         \
    acc[0] = utvm_blk_unscale(acc[0], s00), acc[1] = utvm_blk_unscale(acc[1], s01); \
    acc[2] = utvm_blk_unscale(acc[2], s10), acc[3] = utvm_blk_unscale(acc[3], s11); \
  } while (0)

/* acc[0..3] (pixel 0 x channels 0, 1, pixel 1 x channels 0, 1) += the k & ~3 first k of the pair a
 * (utvm_blk_widen_pair_s8) against rows w0, w1, in runs of at most UTVM_BLK_RUN k (rows shorter than
 * UTVM_BLK_ASM_MIN_K in C, inlined with the caller's constants). */
static inline void utvm_blk_smlad_2x2(const int16_t* a, const int8_t* w0, const int8_t* w1, int32_t k,
                                      int32_t* acc) {
  const int32_t d = (int32_t)(w1 - w0);
  if (k < UTVM_BLK_ASM_MIN_K) {
    UTVM_BLK_RUN_2X2(k & ~3);
    return;
  }
  for (int32_t left = k & ~3; left > 0; left -= UTVM_BLK_RUN) {
    UTVM_BLK_ASM_RUN_2X2(left < UTVM_BLK_RUN ? left : UTVM_BLK_RUN);
  }
}

/* s + one weight word v against a pixel's widened group (xe, xo), scaled by 256. */
static inline int32_t utvm_blk_dot1(int32_t s, int32_t xe, int32_t xo, uint32_t v) {
  return __smlad(xo, utvm_blk_w_odd256(v), __smlad(xe, utvm_blk_even(v), s));
}

#ifdef __cplusplus
}
#endif
#endif /* UTVM_BLK_SIMD */
#endif /* UTVM_DSP_BLOCKED_SMLAD_H_ */
