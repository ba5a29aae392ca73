/* A fake model behind the MLPerf Tiny protocol parser, for its unit tests and fuzzing:
 * 6 input bytes; outputs are int8 (quantized), float and uint8 (not quantized) values
 * computed from the input; everything written is kept in g_fake_out. */
#ifndef UTVM_TESTS_MLPERF_FAKE_H_
#define UTVM_TESTS_MLPERF_FAKE_H_

#include <string.h>

#include "utvm/mlperf.h"

#define FAKE_INPUT_BYTES 6u

static char g_fake_out[1 << 16];
static size_t g_fake_out_len;
static uint8_t g_fake_input[FAKE_INPUT_BYTES];
static uint8_t g_fake_model_input[FAKE_INPUT_BYTES];
static int8_t g_fake_q[3];
static float g_fake_f[2];
static uint8_t g_fake_u[1];
static uint64_t g_fake_now;
static unsigned g_fake_runs;
static int g_fake_fail_at; /* the run that fails (1-based); 0: none */

static void fake_write(void* ctx, const char* s, size_t n) {
  (void)ctx;
  if (n > sizeof(g_fake_out) - 1 - g_fake_out_len) { /* keep the tail */
    g_fake_out_len = 0;
  }
  if (n > sizeof(g_fake_out) - 1) return;
  memcpy(g_fake_out + g_fake_out_len, s, n);
  g_fake_out_len += n;
  g_fake_out[g_fake_out_len] = 0;
}

static uint64_t fake_now(void* ctx) {
  (void)ctx;
  return g_fake_now += 1000u;
}

static utvm_status_t fake_load(void* ctx, const uint8_t* in, size_t n) {
  (void)ctx;
  if (n != FAKE_INPUT_BYTES) return UTVM_ERR_INVALID_ARG;
  memcpy(g_fake_model_input, in, n);
  return UTVM_OK;
}

static utvm_status_t fake_infer(void* ctx) {
  (void)ctx;
  g_fake_runs++;
  g_fake_now += 250u; /* each run takes 250 us */
  if (g_fake_runs > 4096u) return UTVM_ERR_STATE; /* keeps "infer 999999999" short when fuzzing */
  return (int)g_fake_runs == g_fake_fail_at ? UTVM_ERR_KERNEL : UTVM_OK;
}

static utvm_status_t fake_fetch(void* ctx) {
  (void)ctx;
  for (int i = 0; i < 3; ++i) g_fake_q[i] = (int8_t)g_fake_model_input[i];
  g_fake_f[0] = (float)g_fake_model_input[3] / 4.0f;
  g_fake_f[1] = -(float)g_fake_model_input[4];
  g_fake_u[0] = g_fake_model_input[5];
  return UTVM_OK;
}

static const char* fake_describe(void* ctx, utvm_status_t st) {
  (void)ctx;
  return st == UTVM_ERR_KERNEL ? "kernel fused_add failed" : "";
}

static const utvm_mlperf_output_t k_fake_outputs[] = {
    {g_fake_q, 3, UTVM_MLPERF_I8, 1, 0.00390625f, -128},
    {g_fake_f, 2, UTVM_MLPERF_F32, 0, 0.0f, 0},
    {g_fake_u, 1, UTVM_MLPERF_U8, 0, 0.0f, 0},
};

static const utvm_mlperf_config_t k_fake_config = {
    "utvm-test", "kws01", g_fake_input, FAKE_INPUT_BYTES, k_fake_outputs, 3, NULL,
    fake_write, fake_now, fake_load, fake_infer, fake_fetch, fake_describe,
};

static void fake_reset(utvm_mlperf_t* m) {
  g_fake_out_len = 0;
  g_fake_out[0] = 0;
  g_fake_now = 0;
  g_fake_runs = 0;
  g_fake_fail_at = 0;
  memset(g_fake_model_input, 0, sizeof(g_fake_model_input));
  utvm_mlperf_init(m, &k_fake_config);
}

static void fake_send(utvm_mlperf_t* m, const char* text) {
  utvm_mlperf_feed(m, (const uint8_t*)text, strlen(text));
}

#endif /* UTVM_TESTS_MLPERF_FAKE_H_ */
