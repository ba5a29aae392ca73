/*
 * Batch-1 fully-connected layers on packed weights (header-only; included by
 * utvm/dsp_blocked_layers.h, whose utvm_blk_fc_call with `packed` 1 runs utvm_blk_fcp_s8 on the SMLAD
 * path, UTVM_BLK_FCP_PACKED of utvm/dsp_fcp_layout.h, and utvm_blk_fc_s8 elsewhere). There the
 * weights and bias are the ones utvm_blk_fcp_pack makes at compile time (harness.models.compile
 * .fc_pack does the same in numpy); the other paths take them in file order. Same bits everywhere;
 * no scratch; the packed weights are as long as the others.
 *
 * Packing, per pair of k (w0 at an even k, w1 the next): the int16 halfword P = 256 w0 + w1 is
 * stored as it is (low byte w1, high byte w0 - [w1 < 0]), so SMLAD reads P from the weight word as it
 * is and SXTB16 gives E = w1. For an input word x0 x1 x2 x3, C = (x0 - 127, x2 - 127) (one SXTAB16)
 * and D = 256 (x1, x3) - C (one AND, one SSUB16: 256 x1 - x0 + 127 is exactly int16) give
 *   C P + D E = 256 (x0 w0 + x1 w1) - 256 * 127 w0,
 * so per weight word one SXTB16 and two SMLAD (the file-order kernel needs one more: an AND), and the
 * bias carries + 127 w0 over the row's pairs (wrapping). A layer with a pair w0 = -128, w1 < 0 (P out
 * of int16; TFLite's weights are within [-127, 127]) is not packed. The rows go in blocks of four,
 * each block's words interleaved (row 0's word of k 0..3, row 1's, row 2's, row 3's, then k 4..7),
 * so one LDM loads the four rows' words; then each block's last k % 4 (row by row, in file order),
 * then the last channels % 4 rows in file order: a row past the blocks is where it was.
 *
 * The inner loop (utvm_blk_fcp_run, in assembly: it needs all 14 registers, GCC would spill) takes per
 * four k: one LDR of inputs, one LDM of four weight words, three instructions for C and D, four
 * SXTB16 and eight SMLAD: 17 instructions for 16 MACs, eight groups per loop pass. The sums are scaled
 * by 256; a group adds at most 2 * 256 * (255 * 128 + 128 * 128) in magnitude, so runs of at most
 * UTVM_BLK_FCP_RUN groups stay below 2^31 and one arithmetic shift by 8 (exact) brings each into
 * the accumulators, which wrap as the portable sums do.
 */
#include "utvm/dsp_blocked.h" /* first: the helpers */
#ifndef UTVM_DSP_BLOCKED_FCP_H_
#define UTVM_DSP_BLOCKED_FCP_H_

#include <stdint.h>
#include <string.h>

#include "utvm/dsp_blocked_asm.h" /* UTVM_BLK_ASM_FN */
#include "utvm/dsp_fcp_layout.h"

#if UTVM_BLK_FCP_PACKED && !(UTVM_BLK_SIMD && !UTVM_BLK_MVE)
#error "utvm/dsp_fcp_layout.h and utvm/dsp_blocked.h disagree on the SMLAD path"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* packed, packed_bias: w [channels, k] and bias packed for the SMLAD path (see above); 0 (nothing
 * written that matters) when a pair cannot be packed, else 1. */
static inline int32_t utvm_blk_fcp_pack(const int8_t* w, int32_t k, int32_t channels, const int32_t* bias,
                                        int8_t* packed, int32_t* packed_bias) {
  const int32_t groups = k >> 2, tail = k & 3, full = channels & ~3;
  int8_t* tails = packed + full * 4 * groups;
  for (int32_t c = 0; c < channels; ++c) {
    const int8_t* row = w + c * k;
    uint32_t sum = (uint32_t)bias[c];
    if (c >= full) {
      memcpy(packed + c * k, row, (size_t)k);
      packed_bias[c] = bias[c];
      continue;
    }
    for (int32_t g = 0; g < groups; ++g) {
      int8_t* d = packed + (((c >> 2) * groups + g) * 4 + (c & 3)) * 4;
      for (int32_t h = 0; h < 4; h += 2) {
        const int32_t w0 = row[4 * g + h], w1 = row[4 * g + h + 1];
        if (w0 == -128 && w1 < 0) return 0;
        d[h] = (int8_t)w1, d[h + 1] = (int8_t)(w0 - (w1 < 0));
        sum += 127u * (uint32_t)w0;
      }
    }
    for (int32_t i = 0; i < tail; ++i) tails[((c >> 2) * 4 + (c & 3)) * tail + i] = row[4 * groups + i];
    packed_bias[c] = utvm_blk_s32(sum);
  }
  return 1;
}

#if UTVM_BLK_FCP_PACKED
#define UTVM_BLK_FCP_RUN 85 /* groups of four k per scaled sum: 85 * 2 * 256 * 49024 < 2^31 */

/* One group of four k of a block: r0 the inputs, r1 the packed weights (both advanced), r3 the
 * constant (-127, -127); sums in r4..r7. */
#define UTVM_BLK_FCP_GROUP                                                                     \
  "  ldr lr, [r0], #4\n"                                                                       \
  "  ldmia r1!, {r8, r9, r10, r11}\n"                                                          \
  "  sxtab16 ip, r3, lr\n"          /* C = (x0 - 127, x2 - 127) */                             \
  "  and lr, lr, #0xFF00FF00\n"     /* 256 x1, 256 x3 */                                       \
  "  ssub16 lr, lr, ip\n"           /* D */                                                    \
  "  smlad r4, ip, r8, r4\n  sxtb16 r8, r8\n  smlad r4, lr, r8, r4\n"                          \
  "  smlad r5, ip, r9, r5\n  sxtb16 r9, r9\n  smlad r5, lr, r9, r5\n"                          \
  "  smlad r6, ip, r10, r6\n  sxtb16 r10, r10\n  smlad r6, lr, r10, r6\n"                      \
  "  smlad r7, ip, r11, r7\n  sxtb16 r11, r11\n  smlad r7, lr, r11, r7\n"

/* out[0..3] = in[0..3] + the groups (1..UTVM_BLK_FCP_RUN) of four k of x against the packed block at
 * w (AAPCS: r0..r3, out on the stack; the parameters are only read by the assembly). Eight groups
 * per loop pass, a count not a multiple of eight entering the loop where its remainder is left (TBB). */
UTVM_BLK_ASM_FN static void utvm_blk_fcp_run(UTVM_BLK_ARG const int8_t* x, UTVM_BLK_ARG const int8_t* w,
                                             UTVM_BLK_ARG int32_t groups, UTVM_BLK_ARG const int32_t* in,
                                             UTVM_BLK_ARG int32_t* out) {
  __asm volatile(
      "  push {r3, r4, r5, r6, r7, r8, r9, r10, r11, lr}\n"
      "  mvn r3, #0x007E007E\n" /* (-127, -127) */
      "  movs r4, #0\n  movs r5, #0\n  movs r6, #0\n  movs r7, #0\n"
      "  and ip, r2, #7\n"
      "  add r2, r0, r2, lsl #2\n" /* the inputs' end */
      "  tbb [pc, ip]\n"          /* byte offsets: the last group starts 484 bytes on, below 512 */
      "0:\n"
      "  .byte (1f - 0b) / 2, (8f - 0b) / 2, (7f - 0b) / 2, (6f - 0b) / 2\n"
      "  .byte (5f - 0b) / 2, (4f - 0b) / 2, (3f - 0b) / 2, (2f - 0b) / 2\n"
      "1:\n" UTVM_BLK_FCP_GROUP "2:\n" UTVM_BLK_FCP_GROUP "3:\n" UTVM_BLK_FCP_GROUP "4:\n" UTVM_BLK_FCP_GROUP
      "5:\n" UTVM_BLK_FCP_GROUP "6:\n" UTVM_BLK_FCP_GROUP "7:\n" UTVM_BLK_FCP_GROUP "8:\n" UTVM_BLK_FCP_GROUP
      "  cmp r0, r2\n"
      "  bne 1b\n"
      "  ldr r3, [sp]\n"
      "  ldmia r3, {r8, r9, r10, r11}\n"
      "  add r8, r8, r4, asr #8\n  add r9, r9, r5, asr #8\n"
      "  add r10, r10, r6, asr #8\n  add r11, r11, r7, asr #8\n"
      "  ldr r3, [sp, #40]\n" /* out */
      "  stmia r3, {r8, r9, r10, r11}\n"
      "  pop {r3, r4, r5, r6, r7, r8, r9, r10, r11, pc}\n");
}
#undef UTVM_BLK_FCP_GROUP

/* acc (channels c..c+3) into o[c..c+3]: utvm_blk_rq_1x4, four byte stores where SSAT is the clamp. */
static inline void utvm_blk_fcp_rq(const utvm_blk_rq_t* rq, const utvm_blk_frq_t* f, int32_t c, const int32_t* acc,
                                   int8_t* o) {
  if (!f->fast || !f->full) {
    utvm_blk_rq_1x4(rq, f, c, acc, o);
    return;
  }
  for (int32_t j = 0; j < 4; ++j) {
    const utvm_blk_ch_t ch = utvm_blk_channel(f, c + j);
    o[c + j] = (int8_t)utvm_blk_rq_fast(acc[j], &ch, f->out_zp);
  }
}

/* One pixel x[0..k) against the packed weights w of every output channel, requantized into out. */
static inline void utvm_blk_fcp_s8(const int8_t* x, int32_t k, const int8_t* w, int32_t channels,
                                   const int32_t* bias, const utvm_blk_rq_t* rq, int8_t* out) {
  const utvm_blk_frq_t f = utvm_blk_frq(rq, channels);
  const int32_t groups = k >> 2, tail = k & 3, full = channels & ~3;
  const int8_t *p = w, *tails = w + full * 4 * groups;
  for (int32_t c = 0; c < full; c += 4, tails += 4 * tail) {
    int32_t acc[4];
    if (groups == 0) memcpy(acc, bias + c, sizeof acc);
    const int32_t* in = bias + c;
    for (int32_t g = 0; g < groups; g += UTVM_BLK_FCP_RUN, p += 16 * UTVM_BLK_FCP_RUN, in = acc) {
      utvm_blk_fcp_run(x + 4 * g, p, groups - g < UTVM_BLK_FCP_RUN ? groups - g : UTVM_BLK_FCP_RUN, in, acc);
    }
    p = w + (c + 4) * 4 * groups;
    for (int32_t j = 0; j < 4 && tail; ++j) {
      uint32_t u = (uint32_t)acc[j];
      for (int32_t i = 0; i < tail; ++i) u += utvm_blk_mul(x[4 * groups + i], tails[j * tail + i]);
      acc[j] = utvm_blk_s32(u);
    }
    utvm_blk_fcp_rq(rq, &f, c, acc, out);
  }
  for (int32_t c = full; c < channels; ++c) out[c] = utvm_blk_requant(rq, utvm_blk_fc_mac_1x1(x, w + c * k, k, bias[c]), c);
}
#endif /* UTVM_BLK_FCP_PACKED */

#ifdef __cplusplus
}
#endif
#endif /* UTVM_DSP_BLOCKED_FCP_H_ */
