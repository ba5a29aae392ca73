/*
 * The 2 x 2 tile and the pixel-pair rows of utvm/dsp_blocked.h on Thumb-2 cores without the DSP
 * extension (Cortex-M3; header-only, included by utvm/dsp_blocked.h under UTVM_BLK_SMLAL), two
 * multiply-accumulates per SMLAL.
 *
 * The two pixel rows are packed once per pixel pair into one int32 per k, x = p0 + p1 * 2^23 (exact:
 * |p1 * 2^23| <= 2^30), instead of utvm_blk_widen_pair_s8's int16 pairs (same 4 bytes per k). A weight
 * w (LDRSB) times x is p0 w + p1 w 2^23, so one SMLAL per weight adds both pixels' products into one
 * 64-bit sum started at 2^22: the low 23 bits hold 2^22 + sum p0 w, exact over a run of at most
 * UTVM_BLK_SMLAL_RUN k (|p w| <= 2^14, so the low field stays in [0, 2^23) and never carries), and
 * the 64-bit sum >> 23 is sum p1 w exactly (floor; the low field is below 2^23). Past a run the low
 * field is taken out (UBFX) and set back to 2^22; the high field keeps adding (k <= 2048: below
 * 2^48). Per four k: one LDM of four packed words, eight LDRSB, eight SMLAL (17 instructions for 16
 * MACs), four groups per pass; k % 4 single k first. Sums are exact, so the int32 results wrap as
 * the portable uint32 sums do: same bits. The packed pair is read by LDM and written by STRD, so its
 * scratch must be on a 4-byte boundary, as the SMLAD path's LDM needs too: utvm_blk_matmul_call and
 * utvm_blk_conv_call say so, and the generated kernels allocate it as int32 (an int16 array is only
 * 2-byte aligned: clang, or GCC at -Os for globals, place it so).
 *
 * utvm_blk_smlal_row runs a pixel pair's channel pairs in one asm function with the requantization
 * of utvm/dsp_blocked_rq.h's short path fused (SMLAL with a sign-dependent 64-bit constant, ASR,
 * SSAT: ARMv7-M has all of them), where every channel takes it, per channel (utvm_blk_frq_t.fast,
 * step 1) and the activation range is all of int8; other layers run utvm_blk_smlal_2x2 tiles and
 * utvm_blk_requant.
 */
#include "utvm/dsp_blocked.h" /* first: it includes this header where its helpers are defined */
#ifndef UTVM_DSP_BLOCKED_SMLAL_H_
#define UTVM_DSP_BLOCKED_SMLAL_H_

#include <stdint.h>
#include <string.h>

#include "utvm/dsp_blocked_asm.h" /* utvm_blk_row_t, UTVM_BLK_ASM_FN, _RQ, _CH */

#if UTVM_BLK_SMLAL
#ifdef __cplusplus
extern "C" {
#endif

#define UTVM_BLK_SMLAL_RUN 255 /* k per low field: 2^14 * 255 < 2^22, -16256 * 255 >= -2^22 */

/* The asm's arguments (a row descriptor, at its offsets) and state. */
typedef struct {
  utvm_blk_row_t row; /* 0..39: the pair packed (utvm_blk_smlal_pack) */
  int32_t low[2];     /* 40: the low fields' sums over runs */
  int32_t left;       /* 48: groups left after this run */
  int32_t sums[4];    /* 52: the tile's sums s00, s01, s10, s11 */
} utvm_blk_smlal_t;

/* src0[0..n), src1[0..n) packed as p0 + p1 * 2^23, one int32 per k in dst (2 int16 per k): four k per
 * two word loads (per k SXTB of each with its rotation and one ADD), two STRD. */
static inline void utvm_blk_smlal_pack(const int8_t* src0, const int8_t* src1, int32_t n, int16_t* dst) {
  int32_t i = 0;
  for (; i + 4 <= n; i += 4, dst += 8) {
    uint32_t v0 = utvm_blk_ld32(src0 + i), v1 = utvm_blk_ld32(src1 + i), x0, x1, x2, x3;
    __asm__ volatile("sxtb %[x0], %[v0]\n\tsxtb %[x1], %[v1]\n\tadd %[x0], %[x0], %[x1], lsl #23\n\t"
                     "sxtb %[x1], %[v0], ror #8\n\tsxtb %[x2], %[v1], ror #8\n\tadd %[x1], %[x1], %[x2], lsl #23\n\t"
                     "sxtb %[x2], %[v0], ror #16\n\tsxtb %[x3], %[v1], ror #16\n\tadd %[x2], %[x2], %[x3], lsl #23\n\t"
                     "asr %[v0], %[v0], #24\n\tasr %[v1], %[v1], #24\n\tadd %[x3], %[v0], %[v1], lsl #23\n\t"
                     "strd %[x0], %[x1], [%[d]]\n\tstrd %[x2], %[x3], [%[d], #8]"
                     : [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3), [v0] "+r"(v0), [v1] "+r"(v1)
                     : [d] "r"(dst)
                     : "memory");
  }
  for (; i < n; ++i, dst += 2) {
    const uint32_t x = (uint32_t)(int32_t)src0[i] + ((uint32_t)(int32_t)src1[i] << 23);
    memcpy(dst, &x, sizeof x);
  }
}

/* One group of four k: the packed words in r4-r7 (LDM from r0), each against a weight of row 0 (r1)
 * into r8:r9 and of row 1 (r2) into r10:r11, r12 the weight. */
#define UTVM_BLK_SMLAL_K(x)                                                            \
  "ldrsb r12, [r1], #1\n\tsmlal r8, r9, " x ", r12\n\tldrsb r12, [r2], #1\n\t" \
  "smlal r10, r11, " x ", r12\n\t"
#define UTVM_BLK_SMLAL_GROUP \
  "ldm r0!, {r4-r7}\n\t" UTVM_BLK_SMLAL_K("r4") UTVM_BLK_SMLAL_K("r5") UTVM_BLK_SMLAL_K("r6") UTVM_BLK_SMLAL_K("r7")

/* r3 groups: an odd group, an odd pair of groups, then four per pass (LDM, LDRSB and SMLAL leave
 * the flags); local labels 1-4. */
#define UTVM_BLK_SMLAL_GROUPS                                                                        \
  "lsrs r3, r3, #1\n\tbcc 1f\n\t" UTVM_BLK_SMLAL_GROUP "1:\n\tlsrs r3, r3, #1\n\tbcc 2f\n\t"           \
  UTVM_BLK_SMLAL_GROUP UTVM_BLK_SMLAL_GROUP "2:\n\tbeq 3f\n4:\n\t" UTVM_BLK_SMLAL_GROUP                \
  UTVM_BLK_SMLAL_GROUP UTVM_BLK_SMLAL_GROUP UTVM_BLK_SMLAL_GROUP "subs r3, r3, #1\n\tbne 4b\n3:\n\t"

/* The sums start at 2^22, then the k % 4 single k (r3 = k; local labels 6, 7). */
#define UTVM_BLK_SMLAL_START                                                                      \
  "mov r8, #0x400000\n\tmovs r9, #0\n\tmov r10, #0x400000\n\tmovs r11, #0\n\t"                   \
  "ands r5, r3, #3\n\tbeq 7f\n6:\n\tldr r4, [r0], #4\n\t" UTVM_BLK_SMLAL_K("r4") "subs r5, r5, #1\n\t" \
  "bne 6b\n7:\n\t"

/* The high fields (the second pixel's sums) into r8 (row 0) and r10 (row 1). */
#define UTVM_BLK_SMLAL_HIGH "lsr r8, r8, #23\n\torr r8, r8, r9, lsl #9\n\tlsr r10, r10, #23\n\torr r10, r10, r11, lsl #9\n\t"

/* r3 = k <= UTVM_BLK_SMLAL_RUN: the exact sums s00 (r4), s01 (r5), s10 (r8), s11 (r10). */
#define UTVM_BLK_SMLAL_SUMS1                                                                  \
  UTVM_BLK_SMLAL_START "lsrs r3, r3, #2\n\t" UTVM_BLK_SMLAL_GROUPS                           \
  "ubfx r4, r8, #0, #23\n\tsub r4, r4, #0x400000\n\tubfx r5, r10, #0, #23\n\tsub r5, r5, #0x400000\n\t" \
  UTVM_BLK_SMLAL_HIGH

/* One low field (lo) out into the running sum at [lr, #off], set back to 2^22. */
#define UTVM_BLK_SMLAL_TAKE(lo, off)                                                                  \
  "ubfx r4, " lo ", #0, #23\n\tsub " lo ", " lo ", r4\n\tadd " lo ", " lo ", #0x400000\n\tldr r6, [lr, #" off \
  "]\n\tadd r6, r6, r4\n\tsub r6, r6, #0x400000\n\tstr r6, [lr, #" off "]\n\t"

/* Any k (r3): the same sums, in runs of at most 63 groups (the first also takes the single k; local
 * label 8). */
#define UTVM_BLK_SMLAL_SUMS                                                                         \
  "movs r4, #0\n\tstr r4, [lr, #40]\n\tstr r4, [lr, #44]\n\t" UTVM_BLK_SMLAL_START "lsrs r3, r3, #2\n" \
  "8:\n\tsubs r12, r3, #63\n\tit hi\n\tmovhi r3, #63\n\tstr r12, [lr, #48]\n\t" UTVM_BLK_SMLAL_GROUPS  \
  UTVM_BLK_SMLAL_TAKE("r8", "40") UTVM_BLK_SMLAL_TAKE("r10", "44")                                     \
  "ldr r3, [lr, #48]\n\tcmp r3, #0\n\tbgt 8b\n\tldr r4, [lr, #40]\n\tldr r5, [lr, #44]\n\t" UTVM_BLK_SMLAL_HIGH

/* The tile: t->sums = the sums of the pair t->a against rows t->w and t->w + t->pairs over t->k. */
UTVM_BLK_ASM_FN static void utvm_blk_smlal_2x2_asm(UTVM_BLK_ARG utvm_blk_smlal_t* t) {
  __asm__ volatile(
      "push {r4-r11, lr}\n\tmov lr, r0\n\t"
      "ldr r1, [lr, #4]\n\tldr r2, [lr, #12]\n\tadd r2, r1, r2\n\tldr r3, [lr, #8]\n\tldr r0, [lr, #0]\n\t"
      UTVM_BLK_SMLAL_SUMS
      "str r4, [lr, #52]\n\tstr r5, [lr, #56]\n\tstr r8, [lr, #60]\n\tstr r10, [lr, #64]\n\t"
      "pop {r4-r11, pc}\n");
}

/* acc[0..3] (pixel 0 x rows 0, 1, pixel 1 x the same) += the packed pair a against rows w0, w1. */
static inline void utvm_blk_smlal_2x2(const int16_t* a, const int8_t* w0, const int8_t* w1, int32_t k,
                                      int32_t* acc) {
  utvm_blk_smlal_t t;
  t.row.a = a, t.row.w = w0, t.row.k = k, t.row.pairs = (int32_t)(w1 - w0);
  utvm_blk_smlal_2x2_asm(&t);
  for (int32_t j = 0; j < 4; ++j) acc[j] = utvm_blk_s32((uint32_t)acc[j] + (uint32_t)t.sums[j]);
}

/* Every pair of t->pairs (>= 1), with SUMS (UTVM_BLK_SMLAL_SUMS1 or UTVM_BLK_SMLAL_SUMS): per pair the
 * sums, the bias, the requantization, outputs out0[2i], out0[2i + 1] (pixel 0), out1[...] (pixel 1). */
#define UTVM_BLK_SMLAL_ROW(SUMS)                                                                        \
  "push {r4-r11, lr}\n\tmov lr, r0\n"                                                                   \
  "5:\n\tldr r0, [lr, #0]\n\tldr r1, [lr, #4]\n\tldr r3, [lr, #8]\n\tadd r2, r1, r3\n\t" SUMS           \
  "str r2, [lr, #4]\n\t" /* the next pair's first row */                                                \
  "ldr r12, [lr, #16]\n\tldrd r6, r7, [r12], #8\n\tstr r12, [lr, #16]\n\t"                             \
  "add r4, r4, r6\n\tadd r8, r8, r6\n\tadd r5, r5, r7\n\tadd r10, r10, r7\n\t"                         \
  "ldr r12, [lr, #20]\n\tldrd r6, r7, [r12], #8\n\tstr r12, [lr, #20]\n\t"                             \
  "ldr r1, [lr, #24]\n\tldrsb r3, [r1], #1\n\tldrsb r12, [r1], #1\n\tstr r1, [lr, #24]\n\t"            \
  "movs r0, #1\n\t" UTVM_BLK_ASM_CH("r3", "r9") UTVM_BLK_ASM_CH("r12", "r11")                       \
  UTVM_BLK_ASM_RQ("r4", "r9", "r6", "r3") UTVM_BLK_ASM_RQ("r8", "r9", "r6", "r3")                   \
  UTVM_BLK_ASM_RQ("r5", "r11", "r7", "r12") UTVM_BLK_ASM_RQ("r10", "r11", "r7", "r12")              \
  "ldr r1, [lr, #28]\n\t"                                                                               \
  "add r4, r4, r1\n\tssat r4, #8, r4\n\tadd r5, r5, r1\n\tssat r5, #8, r5\n\t"                         \
  "add r8, r8, r1\n\tssat r8, #8, r8\n\tadd r10, r10, r1\n\tssat r10, #8, r10\n\t"                     \
  "ldr r1, [lr, #32]\n\tstrb r4, [r1], #1\n\tstrb r5, [r1], #1\n\tstr r1, [lr, #32]\n\t"               \
  "ldr r1, [lr, #36]\n\tstrb r8, [r1], #1\n\tstrb r10, [r1], #1\n\tstr r1, [lr, #36]\n\t"              \
  "ldr r3, [lr, #12]\n\tsubs r3, r3, #1\n\tstr r3, [lr, #12]\n\tbne 5b\n\t"                            \
  "pop {r4-r11, pc}\n"

/* Rows of k <= UTVM_BLK_SMLAL_RUN (one run), and of any k. */
UTVM_BLK_ASM_FN static void utvm_blk_smlal_row1_asm(UTVM_BLK_ARG utvm_blk_smlal_t* r) {
  __asm__ volatile(UTVM_BLK_SMLAL_ROW(UTVM_BLK_SMLAL_SUMS1));
}
UTVM_BLK_ASM_FN static void utvm_blk_smlal_rows_asm(UTVM_BLK_ARG utvm_blk_smlal_t* r) {
  __asm__ volatile(UTVM_BLK_SMLAL_ROW(UTVM_BLK_SMLAL_SUMS));
}
#undef UTVM_BLK_SMLAL_ROW

/* The packed pair a against channels 0..(channels & ~1) of w (per channel: bias, mult, shift of the
 * short path), requantized into out0, out1 with SSAT as the only clamp; returns the channels done. */
static inline int32_t utvm_blk_smlal_row(const int16_t* a, const int8_t* w, int32_t k, const int32_t* bias,
                                         int32_t channels, const int32_t* mult, const int8_t* shift,
                                         int32_t out_zp, int8_t* out0, int8_t* out1) {
  utvm_blk_smlal_t r;
  r.row = (utvm_blk_row_t){a, w, k, channels >> 1, bias, mult, shift, out_zp, out0, out1};
  if (k <= UTVM_BLK_SMLAL_RUN) {
    utvm_blk_smlal_row1_asm(&r);
  } else {
    utvm_blk_smlal_rows_asm(&r);
  }
  return channels & ~1;
}

#ifdef __cplusplus
}
#endif
#endif /* UTVM_BLK_SMLAL */
#endif /* UTVM_DSP_BLOCKED_SMLAL_H_ */
