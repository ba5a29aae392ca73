/* The AOT executor on a hand-written call table: x -> add(x, p) -> t -> add(t, p) -> y, p a
 * parameter; then a table whose second call fails. */
#include <string.h>

#include "check.h"
#include "fake_platform.h"
#include "utvm/aot.h"

static int32_t add(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)result;
  TVMFFIAny* a = (TVMFFIAny*)args;
  if (n != 3 || a[0].type_index != kTVMFFIDLTensorPtr) return -1;
  const DLTensor* x = (const DLTensor*)a[0].v_ptr;
  const DLTensor* p = (const DLTensor*)a[1].v_ptr;
  DLTensor* out = (DLTensor*)a[2].v_ptr;
  if (x->ndim != 1 || x->shape[0] != 4 || x->strides != NULL || x->device.device_type != kDLCPU) return -1;
  for (int64_t i = 0; i < 4; ++i) ((float*)out->data)[i] = ((const float*)x->data)[i] + ((const float*)p->data)[i];
  utvm_fake_timer_advance(1000); /* each kernel takes 1 ms */
  return 0;
}

static int32_t broken(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)args;
  (void)n;
  (void)result;
  return -1; /* without a message */
}

static const int64_t k_shape[] = {4};
static const float k_p[4] = {10, 20, 30, 40};
static const utvm_aot_tensor_t k_tensors[] = {
    {k_shape, {.offset = 0}, kDLFloat, 32, 1, UTVM_AOT_IO + 0},
    {k_shape, {.param = k_p}, kDLFloat, 32, 1, UTVM_AOT_PARAM},
    {k_shape, {.offset = 64}, kDLFloat, 32, 1, UTVM_AOT_WORKSPACE},
    {k_shape, {.offset = 128}, kDLFloat, 32, 1, UTVM_AOT_IO + 1},
};
static const uint16_t k_args[] = {0, 1, 2, 2, 1, 3};
static const utvm_aot_call_t k_calls[] = {{add, 0, 3}, {add, 3, 3}};
static const utvm_aot_call_t k_bad_calls[] = {{add, 0, 3}, {broken, 3, 3}};
static const uint16_t k_in[] = {0}, k_out[] = {3};
static const utvm_aot_model_t k_model = {k_tensors, k_calls, k_args, k_in, k_out, 2, 1, 1, 192};
static const utvm_aot_model_t k_bad = {k_tensors, k_bad_calls, k_args, k_in, k_out, 2, 1, 1, 192};

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
