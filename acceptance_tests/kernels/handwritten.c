/*
 * Hand-written kernels in the TVM-FFI calling convention (what TVM 0.27 emits for
 * target "c"), used by the tests. Each is registered as the name after __tvm_ffi_.
 */
#include "tvm/ffi/c_api.h"
#include "tvm/runtime/c_backend_api.h"

static DLTensor* tensor_arg(TVMFFIAny* a) {
  if (a->type_index == kTVMFFIDLTensorPtr) return (DLTensor*)a->v_ptr;
  if (a->type_index == kTVMFFITensor) return (DLTensor*)((char*)a->v_ptr + 24);
  return 0;
}

static int32_t fail(const char* kind, const char* msg) {
  const char* parts[1] = {msg};
  TVMFFIErrorSetRaisedFromCStrParts(kind, parts, 1);
  return -1;
}

static int64_t numel(const DLTensor* t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; ++i) n *= t->shape[i];
  return n;
}

/* scale(x: float32[n], y: float32[n], factor: float) : y = x * factor */
int32_t __tvm_ffi_scale(void* self, void* args, int32_t num_args, void* result) {
  (void)self;
  (void)result;
  TVMFFIAny* a = (TVMFFIAny*)args;
  if (num_args != 3) return fail("TypeError", "scale expects 3 arguments");
  DLTensor* x = tensor_arg(&a[0]);
  DLTensor* y = tensor_arg(&a[1]);
  if (!x || !y || a[2].type_index != kTVMFFIFloat) return fail("TypeError", "scale(x, y, factor)");
  if (x->dtype.code != kDLFloat || x->dtype.bits != 32 || numel(x) != numel(y)) {
    return fail("ValueError", "scale needs two float32 tensors of equal size");
  }
  const float* xs = (const float*)x->data;
  float* ys = (float*)y->data;
  for (int64_t i = 0; i < numel(x); ++i) ys[i] = xs[i] * (float)a[2].v_float64;
  return 0;
}

/* busy(n: int) -> int: a loop of n iterations the compiler cannot remove. */
int32_t __tvm_ffi_busy(void* self, void* args, int32_t num_args, void* result) {
  (void)self;
  TVMFFIAny* a = (TVMFFIAny*)args;
  if (num_args != 1 || a[0].type_index != kTVMFFIInt) return fail("TypeError", "busy(n: int)");
  volatile uint64_t acc = 0;
  for (int64_t i = 0; i < a[0].v_int64; ++i) acc += (uint64_t)i ^ (acc >> 3);
  TVMFFIAny* r = (TVMFFIAny*)result;
  r->type_index = kTVMFFIInt;
  r->v_int64 = (int64_t)(acc & 0x7FFFFFFFFFFFFFFFull);
  return 0;
}

/* add_int(a: int, b: int) -> int */
int32_t __tvm_ffi_add_int(void* self, void* args, int32_t num_args, void* result) {
  (void)self;
  TVMFFIAny* a = (TVMFFIAny*)args;
  if (num_args != 2 || a[0].type_index != kTVMFFIInt || a[1].type_index != kTVMFFIInt) {
    return fail("TypeError", "add_int(a: int, b: int)");
  }
  TVMFFIAny* r = (TVMFFIAny*)result;
  r->type_index = kTVMFFIInt;
  r->v_int64 = (int64_t)((uint64_t)a[0].v_int64 + (uint64_t)a[1].v_int64);
  return 0;
}

/* workspace(nbytes: int) -> int: allocates, touches and frees scratch memory. */
int32_t __tvm_ffi_workspace(void* self, void* args, int32_t num_args, void* result) {
  (void)self;
  TVMFFIAny* a = (TVMFFIAny*)args;
  if (num_args != 1 || a[0].type_index != kTVMFFIInt) return fail("TypeError", "workspace(n)");
  uint64_t n = (uint64_t)a[0].v_int64;
  unsigned char* p = (unsigned char*)TVMBackendAllocWorkspace(kDLCPU, 0, n, 0, 8);
  if (p == 0) return -1; /* the runtime recorded why */
  int64_t sum = 0;
  for (uint64_t i = 0; i < n; ++i) p[i] = (unsigned char)i;
  for (uint64_t i = 0; i < n; ++i) sum += p[i];
  if (TVMBackendFreeWorkspace(kDLCPU, 0, p) != 0) return -1;
  TVMFFIAny* r = (TVMFFIAny*)result;
  r->type_index = kTVMFFIInt;
  r->v_int64 = sum;
  return 0;
}

/* fail_with(msg: str): raises RuntimeError with msg. */
int32_t __tvm_ffi_fail_with(void* self, void* args, int32_t num_args, void* result) {
  (void)self;
  (void)result;
  TVMFFIAny* a = (TVMFFIAny*)args;
  if (num_args != 1 || a[0].type_index != kTVMFFIRawStr) return fail("TypeError", "fail_with(str)");
  return fail("RuntimeError", a[0].v_c_str);
}

/* sum_u8(x: uint8[...]) -> int: checks every byte arrived. */
int32_t __tvm_ffi_sum_bytes(void* self, void* args, int32_t num_args, void* result) {
  (void)self;
  TVMFFIAny* a = (TVMFFIAny*)args;
  DLTensor* x = num_args == 1 ? tensor_arg(&a[0]) : 0;
  if (!x) return fail("TypeError", "sum_bytes(x: Tensor)");
  int64_t nbytes = numel(x) * ((x->dtype.bits * x->dtype.lanes + 7) / 8);
  const unsigned char* p = (const unsigned char*)x->data + x->byte_offset;
  int64_t s = 0;
  for (int64_t i = 0; i < nbytes; ++i) s += p[i];
  TVMFFIAny* r = (TVMFFIAny*)result;
  r->type_index = kTVMFFIInt;
  r->v_int64 = s;
  return 0;
}

/* crash(): executes an undefined instruction. A board resets (fault handler);
 * the host process dies of SIGILL. Either way the harness must say so. */
int32_t __tvm_ffi_crash(void* self, void* args, int32_t num_args, void* result) {
  (void)self;
  (void)args;
  (void)num_args;
  (void)result;
  __builtin_trap();
}

/* A constant table: read-only data that must stay in flash on a board. */
const int32_t utvm_test_table[64] = {
#define SQ(i) (i) * (i) * 7 + 3
    SQ(0),  SQ(1),  SQ(2),  SQ(3),  SQ(4),  SQ(5),  SQ(6),  SQ(7),  SQ(8),  SQ(9),  SQ(10), SQ(11), SQ(12),
    SQ(13), SQ(14), SQ(15), SQ(16), SQ(17), SQ(18), SQ(19), SQ(20), SQ(21), SQ(22), SQ(23), SQ(24), SQ(25),
    SQ(26), SQ(27), SQ(28), SQ(29), SQ(30), SQ(31), SQ(32), SQ(33), SQ(34), SQ(35), SQ(36), SQ(37), SQ(38),
    SQ(39), SQ(40), SQ(41), SQ(42), SQ(43), SQ(44), SQ(45), SQ(46), SQ(47), SQ(48), SQ(49), SQ(50), SQ(51),
    SQ(52), SQ(53), SQ(54), SQ(55), SQ(56), SQ(57), SQ(58), SQ(59), SQ(60), SQ(61), SQ(62), SQ(63),
#undef SQ
};

/* table(i: int) -> int: utvm_test_table[i]. */
int32_t __tvm_ffi_table(void* self, void* args, int32_t num_args, void* result) {
  (void)self;
  TVMFFIAny* a = (TVMFFIAny*)args;
  if (num_args != 1 || a[0].type_index != kTVMFFIInt || a[0].v_int64 < 0 || a[0].v_int64 >= 64) {
    return fail("ValueError", "table(i: int) with 0 <= i < 64");
  }
  TVMFFIAny* r = (TVMFFIAny*)result;
  r->type_index = kTVMFFIInt;
  r->v_int64 = utvm_test_table[a[0].v_int64];
  return 0;
}
