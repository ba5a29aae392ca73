/*
 * Two widened pixel rows against every pair of output channels in one asm function (header-only;
 * included by utvm/dsp_blocked.h; Thumb-2 cores with the DSP extension): per pair, the 2 x 2 tile's
 * groups loop of utvm/dsp_blocked_smlad.h, the scaled sums brought back and the bias added, then
 * utvm/dsp_blocked_rq.h's short path for the four outputs (per output ADD, AND, EOR, SMLAL, ASR, ADD of
 * the output zero point, SSAT, STRB), with no call, spill or reload between the pairs but the
 * descriptor's fields. It takes rows whose every channel is on the short path (utvm_blk_frq_t.fast,
 * per channel), whose activation range is all of int8 (SSAT is the clamp) and whose length is a
 * multiple of 4 from 16 to UTVM_BLK_RUN; other layers keep the C tiles. Same bits.
 */
#include "utvm/dsp_blocked.h" /* first: it includes this header where its types are defined */
#ifndef UTVM_DSP_BLOCKED_ROW_H_
#define UTVM_DSP_BLOCKED_ROW_H_

#include <stdint.h>

#include "utvm/dsp_blocked_asm.h" /* utvm_blk_row_t, UTVM_BLK_ASM_RQ, UTVM_BLK_ASM_CH */

#if UTVM_BLK_SIMD && defined(__thumb2__) && defined(__GNUC__)
#ifdef __cplusplus
extern "C" {
#endif

/* Every pair of r->pairs (>= 1): outputs out0[2i], out0[2i + 1] (pixel 0), out1[...] (pixel 1). */
UTVM_BLK_ASM_FN static void utvm_blk_row_2x2_asm(UTVM_BLK_ARG utvm_blk_row_t* r) {
  __asm__ volatile(
      "push {r0, r4-r11, lr}\n\t" /* [sp]: r */
      "ldr r1, [r0, #4]\n"
      "5:\n\t"
      "ldr r3, [sp]\n\tldr r2, [r3, #8]\n\tldr r0, [r3, #0]\n\tadd r2, r1, r2\n\t"
      "movs r8, #0\n\tmovs r9, #0\n\tmovs r10, #0\n\tmovs r11, #0\n\t"
      "ldr r3, [r3, #8]\n\tlsrs r3, r3, #3\n\t" UTVM_BLK_ASM_GROUPS /* r2: the next pair's first row */
      "ldr lr, [sp]\n\tstr r2, [lr, #4]\n\t"
      "ldr r12, [lr, #16]\n\tldrd r4, r5, [r12], #8\n\tstr r12, [lr, #16]\n\t"
      "add r8, r4, r8, asr #8\n\tadd r10, r4, r10, asr #8\n\tadd r9, r5, r9, asr #8\n\tadd r11, r5, r11, asr #8\n\t"
      "ldr r12, [lr, #20]\n\tldrd r4, r5, [r12], #8\n\tstr r12, [lr, #20]\n\t"
      "ldr r12, [lr, #24]\n\tldrsb r6, [r12], #1\n\tldrsb r7, [r12], #1\n\tstr r12, [lr, #24]\n\t"
      "movs r0, #1\n\t" UTVM_BLK_ASM_CH("r6", "r3") UTVM_BLK_ASM_CH("r7", "r0")
      UTVM_BLK_ASM_RQ("r8", "r3", "r4", "r6") UTVM_BLK_ASM_RQ("r10", "r3", "r4", "r6")
      UTVM_BLK_ASM_RQ("r9", "r0", "r5", "r7") UTVM_BLK_ASM_RQ("r11", "r0", "r5", "r7")
      "ldr r12, [lr, #28]\n\t"
      "add r8, r8, r12\n\tssat r8, #8, r8\n\tadd r9, r9, r12\n\tssat r9, #8, r9\n\t"
      "add r10, r10, r12\n\tssat r10, #8, r10\n\tadd r11, r11, r12\n\tssat r11, #8, r11\n\t"
      "ldr r12, [lr, #32]\n\tstrb r8, [r12], #1\n\tstrb r9, [r12], #1\n\tstr r12, [lr, #32]\n\t"
      "ldr r12, [lr, #36]\n\tstrb r10, [r12], #1\n\tstrb r11, [r12], #1\n\tstr r12, [lr, #36]\n\t"
      "ldr r1, [lr, #4]\n\tldr r3, [lr, #12]\n\tsubs r3, r3, #1\n\tstr r3, [lr, #12]\n\tbne 5b\n\t"
      "pop {r0, r4-r11, pc}\n");
}

/* Whether the asm takes these rows (see above). */
static inline int utvm_blk_row_fits(const utvm_blk_frq_t* f, int32_t k, int32_t channels) {
  return f->fast && f->full && f->step == 1 && (k & 3) == 0 && k >= UTVM_BLK_ASM_MIN_K && k <= UTVM_BLK_RUN &&
         channels >= 2;
}

/* The pixel pair a against channels 0..(channels & ~1) of w, requantized into out0, out1; returns the
 * channels done. */
static inline int32_t utvm_blk_row_2x2(const int16_t* a, const int8_t* w, int32_t k, const int32_t* bias,
                                       int32_t channels, const utvm_blk_frq_t* f, int8_t* out0, int8_t* out1) {
  utvm_blk_row_t r = {a, w, k, channels >> 1, bias, f->mult, f->shift, f->out_zp, out0, out1};
  utvm_blk_row_2x2_asm(&r);
  return channels & ~1;
}

#ifdef __cplusplus
}
#endif
#endif
#endif /* UTVM_DSP_BLOCKED_ROW_H_ */
