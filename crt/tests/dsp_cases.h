/* The cases of the dot-product micro-kernels' tests (utvm/dsp.h), shared by the host check
 * (dsp_check.c, under sanitizers) and the device kernel (dsp_kernel.c, on every target). Case i
 * has its own length, operand alignments, weight-row stride and starting accumulator; its
 * results are 7 int32: utvm_dot_s8, utvm_dot_s8_x2 (2), utvm_dot_s8_x4 (4). */
#ifndef UTVM_TESTS_DSP_CASES_H_
#define UTVM_TESTS_DSP_CASES_H_

#include <stdint.h>

#include "utvm/dsp.h"

#define DSP_CASES 200
#define DSP_RESULTS 7
#define DSP_MAX_N 40
#define DSP_A_BYTES (DSP_MAX_N + 4)
#define DSP_B_BYTES (4 + 3 * (DSP_MAX_N + 4) + DSP_MAX_N)

static inline int32_t dsp_case_n(int32_t i) { return i % (DSP_MAX_N + 1); }
static inline int32_t dsp_case_a_offset(int32_t i) { return i % 4; }
static inline int32_t dsp_case_b_offset(int32_t i) { return (i / 4) % 4; }
static inline int32_t dsp_case_stride(int32_t i) { return dsp_case_n(i) + (i / 16) % 5; }
/* Near INT32_MAX or INT32_MIN now and then: the sums wrap, as SMLAD's do. */
static inline int32_t dsp_case_acc(int32_t i) {
  return i % 7 == 0 ? INT32_MAX - 3000 : i % 11 == 0 ? INT32_MIN + 3000 : (i - 100) * 1000;
}

static inline void dsp_case_run(int32_t i, const int8_t* a, const int8_t* b, int32_t* out) {
  const int8_t* pa = a + dsp_case_a_offset(i);
  const int8_t* pb = b + dsp_case_b_offset(i);
  int32_t n = dsp_case_n(i), stride = dsp_case_stride(i), acc = dsp_case_acc(i);
  out[0] = utvm_dot_s8(pa, pb, n, acc);
  out[1] = acc;
  out[2] = acc - 1;
  utvm_dot_s8_x2(pa, pb, stride, n, out + 1);
  for (int32_t r = 0; r < 4; ++r) out[3 + r] = acc + r;
  utvm_dot_s8_x4(pa, pb, stride, n, out + 3);
}

#endif
