/*
 * An int8 dot product written with MVE (Helium) intrinsics, in the TVM-FFI convention: a test
 * kernel (tests/test_m55.py) showing that an M55 image runs MVE instructions, i.e. that the
 * start-up code enabled them (without CP10/CP11 access the first one is a UsageFault, NOCP).
 */
#include <arm_mve.h>

#include "tvm/ffi/c_api.h"

#if !defined(__ARM_FEATURE_MVE)
#error "mve_dot.c is for cores with MVE (-mcpu=cortex-m55)"
#endif

static int32_t fail(const char* msg) {
  const char* parts[1] = {msg};
  TVMFFIErrorSetRaisedFromCStrParts("TypeError", parts, 1);
  return -1;
}

static const DLTensor* int8_vector(const TVMFFIAny* a) {
  const DLTensor* t = a->type_index == kTVMFFIDLTensorPtr ? (const DLTensor*)a->v_ptr
                      : a->type_index == kTVMFFITensor    ? (const DLTensor*)((const char*)a->v_ptr + 24)
                                                          : 0;
  return t && t->ndim == 1 && t->dtype.code == kDLInt && t->dtype.bits == 8 ? t : 0;
}

/* mve_dot(a: int8[n], b: int8[n]) -> int: sum of a[i] * b[i], 16 lanes at a time, the tail predicated. */
int32_t __tvm_ffi_mve_dot(void* self, void* args, int32_t num_args, void* result) {
  (void)self;
  const TVMFFIAny* a = (const TVMFFIAny*)args;
  const DLTensor* x = num_args == 2 ? int8_vector(&a[0]) : 0;
  const DLTensor* y = num_args == 2 ? int8_vector(&a[1]) : 0;
  if (!x || !y || x->shape[0] != y->shape[0]) return fail("mve_dot(a: int8[n], b: int8[n])");
  const int8_t* xs = (const int8_t*)x->data + x->byte_offset;
  const int8_t* ys = (const int8_t*)y->data + y->byte_offset;
  int32_t acc = 0;
  for (int64_t left = x->shape[0]; left > 0; left -= 16, xs += 16, ys += 16) {
    mve_pred16_t p = vctp8q((uint32_t)left);
    acc = vmladavaq_p_s8(acc, vld1q_z_s8(xs, p), vld1q_z_s8(ys, p), p);
  }
  TVMFFIAny* r = (TVMFFIAny*)result;
  r->type_index = kTVMFFIInt;
  r->v_int64 = acc;
  return 0;
}
