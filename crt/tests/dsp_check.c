/* Host check of the dot-product micro-kernels (utvm/dsp.h) against a naive loop: every case of
 * dsp_cases.h over random bytes, over bytes that are all -128 (the largest products), and over
 * alternating -128 / 127. Built under ASan/UBSan; prints "dsp: N cases, N mismatches". */
#include <stdio.h>
#include <stdlib.h>

#include "dsp_cases.h"

/* acc + sum a[i] * b[i], wrapping as a two's-complement int32 (computed in int64). */
static int32_t naive(const int8_t* a, const int8_t* b, int32_t n, int32_t acc) {
  int64_t sum = acc;
  for (int32_t i = 0; i < n; ++i) sum += (int64_t)a[i] * b[i];
  return utvm_dsp_s32((uint32_t)(uint64_t)sum);
}

static int check(const int8_t* a, const int8_t* b) {
  int mismatches = 0;
  for (int32_t i = 0; i < DSP_CASES; ++i) {
    int32_t got[DSP_RESULTS], want[DSP_RESULTS];
    const int8_t* pa = a + dsp_case_a_offset(i);
    const int8_t* pb = b + dsp_case_b_offset(i);
    int32_t n = dsp_case_n(i), stride = dsp_case_stride(i), acc = dsp_case_acc(i);
    dsp_case_run(i, a, b, got);
    want[0] = naive(pa, pb, n, acc);
    for (int32_t r = 0; r < 2; ++r) want[1 + r] = naive(pa, pb + r * stride, n, acc - r);
    for (int32_t r = 0; r < 4; ++r) want[3 + r] = naive(pa, pb + r * stride, n, acc + r);
    for (int k = 0; k < DSP_RESULTS; ++k) {
      if (got[k] != want[k]) {
        if (mismatches++ < 10) {
          printf("case %d result %d: %ld, expected %ld\n", (int)i, k, (long)got[k], (long)want[k]);
        }
      }
    }
  }
  return mismatches;
}

int main(void) {
  /* Exactly as large as the cases need, on the heap: ASan catches any read past the end. */
  int8_t* a = malloc(DSP_A_BYTES);
  int8_t* b = malloc(DSP_B_BYTES);
  int mismatches = 0, runs = 0;
  if (a == NULL || b == NULL) return 2;
  srand(7);
  for (int pattern = 0; pattern < 12; ++pattern, ++runs) {
    for (int j = 0; j < DSP_A_BYTES; ++j) {
      a[j] = (int8_t)(pattern == 0 ? -128 : pattern == 1 ? (j % 2 ? 127 : -128) : rand() % 256 - 128);
    }
    for (int j = 0; j < DSP_B_BYTES; ++j) {
      b[j] = (int8_t)(pattern == 0 ? -128 : pattern == 1 ? (j % 3 ? -128 : 127) : rand() % 256 - 128);
    }
    mismatches += check(a, b);
  }
  printf("dsp: %d cases, %d mismatches (%s path)\n", runs * DSP_CASES, mismatches,
         UTVM_DSP_SIMD ? "SMLAD" : "portable");
  free(a);
  free(b);
  return mismatches ? 1 : 0;
}
