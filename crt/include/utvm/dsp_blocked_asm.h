/*
 * What the Thumb-2 asm functions of utvm/dsp_blocked.h share (header-only; GCC and Clang on Thumb-2
 * cores): the attributes of a function that is its asm alone, the descriptor a pixel pair's rows
 * read (utvm/dsp_blocked_row.h on the SMLAD path; utvm/dsp_blocked_smlal.h on the M3, which extends
 * it), and the fused requantization of one output (utvm/dsp_blocked_rq.h's short path: ADD, AND,
 * EOR, SMLAL, ASR; all ARMv7-M).
 */
#ifndef UTVM_DSP_BLOCKED_ASM_H_
#define UTVM_DSP_BLOCKED_ASM_H_

#include <stdint.h>

#if defined(__thumb2__) && defined(__GNUC__)
#ifdef __cplusplus
extern "C" {
#endif

/* A function that is its asm alone, called as any other (GCC: no interprocedural register allocation,
 * which would read its clobbers from an asm that lists none). */
#if defined(__clang__)
#define UTVM_BLK_ASM_FN __attribute__((naked, noinline, unused))
#else
#define UTVM_BLK_ASM_FN __attribute__((naked, noipa, unused))
#endif
#define UTVM_BLK_ARG __attribute__((unused)) /* (read by the asm) */

/* A pixel pair's rows as the asm reads them, at these offsets (the pointers advance pair by pair). */
typedef struct {
  const int16_t* a;     /* 0: the pair, widened (SMLAD) or packed (SMLAL) */
  const int8_t* w;      /* 4: the (first) weight row */
  int32_t k;            /* 8 */
  int32_t pairs;        /* 12: channel pairs left (the SMLAL tile: the second row's offset from w) */
  const int32_t* bias;  /* 16 */
  const int32_t* mult;  /* 20 */
  const int8_t* shift;  /* 24 */
  int32_t out_zp;       /* 28 */
  int8_t* out0;         /* 32 */
  int8_t* out1;         /* 36 */
} utvm_blk_row_t;

/* One output: accumulator `acc` requantized in place with the channel's high word `high`, multiplier
 * `m` and right shift `right` (utvm_blk_rq_fast before its zero point), r1 and r2 spent. */
#define UTVM_BLK_ASM_RQ(acc, high, m, right)                                                  \
  "add r2, " high ", " acc ", asr #31\n\tand r1, " acc ", #0x80000000\n\t"                    \
  "eor r1, r1, #0x40000000\n\tsmlal r1, r2, " acc ", " m "\n\tasr " acc ", r2, " right "\n\t"

/* One channel's constants from its shift byte in `e`: e = max(-shift - 2, 0), then `high` = 1 << e
 * (r0 holds 1) and e + 1 in `e`. */
#define UTVM_BLK_ASM_CH(e, high) \
  "mvn " e ", " e "\n\tsub " e ", " e ", #1\n\tbic " e ", " e ", " e ", asr #31\n\tlsl " high ", r0, " e "\n\tadd " e ", " e ", #1\n\t"

#ifdef __cplusplus
}
#endif
#endif /* __thumb2__ && __GNUC__ */
#endif /* UTVM_DSP_BLOCKED_ASM_H_ */
