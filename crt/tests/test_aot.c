/* The AOT executor on hand-written calls, as harness/models/compile/aot.py generates them:
 * x -> add(x, p) -> t -> add(t, p) -> y, p a parameter; then calls whose second kernel fails. */
#include <string.h>

#include "check.h"
#include "fake_platform.h"
#include "utvm/aot.h"

static int32_t add(const float* x, const float* p, float* out) {
  for (int i = 0; i < 4; ++i) out[i] = x[i] + p[i];
  utvm_fake_timer_advance(1000); /* each kernel takes 1 ms */
  return 0;
}

static int32_t broken(const float* x, const float* p, float* out) {
  (void)x;
  (void)p;
  (void)out;
  return -1; /* without a message */
}

static const int64_t k_shape[] = {4};
static const float k_p[4] = {10, 20, 30, 40};
static const utvm_aot_io_t k_io[] = {{k_shape, 0, 16, kDLFloat, 32, 1}, {k_shape, 128, 16, kDLFloat, 32, 1}};

static utvm_status_t calls(uint8_t* const* io, uint8_t* ws, utvm_aot_clock_t* clock) {
  UTVM_AOT_CALL(clock, 0, add((float*)(void*)io[0], k_p, (float*)(void*)(ws + 64)));
  UTVM_AOT_CALL(clock, 1, add((float*)(void*)(ws + 64), k_p, (float*)(void*)io[1]));
  return UTVM_OK;
}

static utvm_status_t bad_calls(uint8_t* const* io, uint8_t* ws, utvm_aot_clock_t* clock) {
  UTVM_AOT_CALL(clock, 0, add((float*)(void*)io[0], k_p, (float*)(void*)(ws + 64)));
  UTVM_AOT_CALL(clock, 1, broken((float*)(void*)(ws + 64), k_p, (float*)(void*)io[1]));
  return UTVM_OK;
}

static const utvm_aot_model_t k_model = {calls, k_io, 2, 1, 1, 192};
static const utvm_aot_model_t k_bad = {bad_calls, k_io, 2, 1, 1, 192};

static uint8_t g_ws[192] __attribute__((aligned(64)));

static void test_runs_in_the_workspace(void) {
  size_t nbytes = 0;
  float* x = utvm_aot_io(&k_model, g_ws, 0, &nbytes);
  CHECK(x == (float*)(void*)g_ws && nbytes == 16);
  CHECK(utvm_aot_io(&k_model, g_ws, 1, &nbytes) == g_ws + 128 && utvm_aot_io(&k_model, g_ws, 2, NULL) == NULL);
  for (int i = 0; i < 4; ++i) x[i] = (float)i;
  CHECK(utvm_aot_run(&k_model, NULL, NULL, g_ws, NULL) == UTVM_OK);
  const float* y = (const float*)(const void*)(g_ws + 128);
  CHECK(y[0] == 20.0f && y[3] == 83.0f);
  CHECK(utvm_aot_run(&k_model, NULL, NULL, NULL, NULL) == UTVM_ERR_INVALID_ARG);
}

/* The caller's buffers are used in place; the workspace's input and output regions stay as they were. */
static void test_runs_on_the_callers_buffers(void) {
  float x[4] = {1, 2, 3, 4}, y[4] = {0};
  const void* inputs[1] = {x};
  void* outputs[1] = {y};
  memset(g_ws, 0, sizeof(g_ws));
  CHECK(utvm_aot_run(&k_model, inputs, outputs, g_ws, NULL) == UTVM_OK);
  CHECK(y[0] == 21.0f && y[3] == 84.0f);
  CHECK(((const float*)(const void*)g_ws)[0] == 0.0f && ((const float*)(const void*)(g_ws + 128))[0] == 0.0f);
}

static void test_profile_times_each_call(void) {
  uint64_t ticks[2] = {0, 0};
  utvm_fake_timer_set_step(7); /* a counter read costs 7 ticks */
  CHECK(utvm_aot_run(&k_model, NULL, NULL, g_ws, ticks) == UTVM_OK);
  CHECK(ticks[0] == 1007 && ticks[1] == 1007);
  utvm_fake_timer_set_step(1000);
}

static void test_a_failing_kernel_stops_the_run(void) {
  float y[4] = {-1, -1, -1, -1};
  void* outputs[1] = {y};
  CHECK(utvm_aot_run(&k_bad, NULL, outputs, g_ws, NULL) == UTVM_ERR_KERNEL);
  CHECK(strstr(utvm_error_get(), "failed without an error message") != NULL);
  CHECK(y[0] == -1.0f);
}

void test_aot(void) {
  RUN(test_runs_in_the_workspace);
  RUN(test_runs_on_the_callers_buffers);
  RUN(test_profile_times_each_call);
  RUN(test_a_failing_kernel_stops_the_run);
}
