/* The dot-product micro-kernels (utvm/dsp.h) on a device, as a kernel in the TVM-FFI calling
 * convention: dsp_cases(a: int8[DSP_A_BYTES], b: int8[DSP_B_BYTES], out: int32[DSP_CASES * 7])
 * runs every case of dsp_cases.h; the host compares the results with numpy. */
#include "dsp_cases.h"
#include "tvm/ffi/c_api.h"

static DLTensor* tensor_arg(TVMFFIAny* a) {
  if (a->type_index == kTVMFFIDLTensorPtr) return (DLTensor*)a->v_ptr;
  if (a->type_index == kTVMFFITensor) return (DLTensor*)((char*)a->v_ptr + 24);
  return 0;
}

static int64_t numel(const DLTensor* t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; ++i) n *= t->shape[i];
  return n;
}

int32_t __tvm_ffi_dsp_cases(void* self, void* args, int32_t num_args, void* result) {
  (void)self;
  (void)result;
  TVMFFIAny* a = (TVMFFIAny*)args;
  DLTensor* x = num_args == 3 ? tensor_arg(&a[0]) : 0;
  DLTensor* w = num_args == 3 ? tensor_arg(&a[1]) : 0;
  DLTensor* out = num_args == 3 ? tensor_arg(&a[2]) : 0;
  if (!x || !w || !out || numel(x) != DSP_A_BYTES || numel(w) != DSP_B_BYTES ||
      numel(out) != DSP_CASES * DSP_RESULTS) {
    const char* parts[1] = {"dsp_cases(a: int8[44], b: int8[176], out: int32[1400])"};
    TVMFFIErrorSetRaisedFromCStrParts("TypeError", parts, 1);
    return -1;
  }
  for (int32_t i = 0; i < DSP_CASES; ++i) {
    dsp_case_run(i, (const int8_t*)x->data, (const int8_t*)w->data, (int32_t*)out->data + i * DSP_RESULTS);
  }
  return 0;
}
