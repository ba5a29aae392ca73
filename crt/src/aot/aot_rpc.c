/* The image's AOT model over RPC: one function of the system library, called (and timed by the
 * time evaluator) like a kernel, with the model's tensors as its arguments:
 *   inputs..., outputs..., workspace (uint8[workspace_bytes], UTVM_AOT_ALIGN-aligned)
 *   [, times (float64[num_calls]): each call's seconds (a profile: a timer read after each call;
 *      the first call's time also has the entry's checks and set-up, so the times cover the call)]
 * The inputs and outputs are used in place. No module, no names, no state. */
#include <string.h>

#include "utvm/aot.h"
#include "utvm/timer.h"

static int32_t fail(const char* kind, const char* msg) {
  utvm_error_set(kind, msg);
  return -1;
}

/* The argument's data, if it is a tensor of `code`/`bits` (one lane), contiguous, of `ndim`
 * dimensions `shape` (with at_least: one dimension of at least shape[0]); NULL otherwise. Cheap
 * (no size arithmetic): it runs before every timed run. */
static uint8_t* data_of(const TVMFFIAny* a, uint8_t code, uint8_t bits, uint32_t ndim, const int64_t* shape,
                        int at_least) {
  if (a->type_index != kTVMFFIDLTensorPtr) return NULL;
  const DLTensor* t = (const DLTensor*)a->v_ptr;
  if (t->dtype.code != code || t->dtype.bits != bits || t->dtype.lanes != 1 || t->strides != NULL ||
      (uint32_t)t->ndim != ndim) {
    return NULL;
  }
  for (uint32_t d = 0; d < ndim; ++d) {
    if (at_least ? t->shape[d] < shape[d] : t->shape[d] != shape[d]) return NULL;
  }
  return (uint8_t*)t->data + t->byte_offset;
}

int32_t utvm_aot_rpc_run(const utvm_aot_model_t* m, void* args, int32_t n, void* result) {
  const TVMFFIAny* a = (const TVMFFIAny*)args;
  const uint32_t nio = (uint32_t)m->num_inputs + m->num_outputs;
  utvm_timer_t whole; /* a profile's: from here, so that its times cover the whole function */
  if (n == (int32_t)nio + 2) utvm_timer_start(&whole);
  const void* in[UTVM_AOT_MAX_IO];
  void* out[UTVM_AOT_MAX_IO];
  (void)result;
  if (n != (int32_t)nio + 1 && n != (int32_t)nio + 2) {
    return fail("TypeError", "aot: expected the inputs, the outputs, the workspace [and the times]");
  }
  for (uint32_t i = 0; i < nio; ++i) {
    const utvm_aot_io_t* t = &m->io[i];
    uint8_t* p = data_of(&a[i], t->code, t->bits, t->ndim, t->shape, 0);
    if (p == NULL) return fail("ValueError", "aot: a tensor's shape, size or dtype does not match the model's");
    if (i < m->num_inputs) {
      in[i] = p;
    } else {
      out[i - m->num_inputs] = p;
    }
  }
  const int64_t sizes[2] = {(int64_t)m->workspace_bytes, (int64_t)m->num_calls};
  uint8_t* workspace = data_of(&a[nio], kDLUInt, 8, 1, &sizes[0], 1);
  if (workspace == NULL || (uintptr_t)workspace % UTVM_AOT_ALIGN != 0) {
    return fail("ValueError", "aot: the workspace is smaller than the model's or not aligned");
  }
  double* times = NULL;
  if (n == (int32_t)nio + 2 &&
      (times = (double*)(void*)data_of(&a[nio + 1], kDLFloat, 64, 1, &sizes[1], 1)) == NULL) {
    return fail("ValueError", "aot: the times are not float64, one per call");
  }
  _Static_assert(sizeof(double) == sizeof(uint64_t), "times hold ticks during a profiled run");
  utvm_status_t st = utvm_aot_run(m, in, out, workspace, (uint64_t*)(void*)times);
  if (st == UTVM_ERR_KERNEL) return -1; /* the kernel's own error is set */
  if (st != UTVM_OK) return fail("RuntimeError", utvm_status_str(st));
  if (times == NULL || m->num_calls == 0) return 0;
  uint64_t total, sum = 0, t;
  if (utvm_timer_lap(&whole, &total) != UTVM_OK) return fail("RuntimeError", "aot: no timer");
  for (uint32_t i = 0; i < m->num_calls; ++i) {
    memcpy(&t, &times[i], sizeof(t));
    sum += t;
  }
  for (uint32_t i = 0; i < m->num_calls; ++i) {
    memcpy(&t, &times[i], sizeof(t));
    if (i == 0 && total > sum) t += total - sum; /* the first call's time has the checks above and set-up */
    times[i] = utvm_timer_seconds(t);
  }
  return 0;
}
