/* peek(addr) -> int and poke(addr, value): 32-bit device register access for tests that set a
 * board's peripherals up (tests/test_qemu.py winds the clock's counter to just before a wrap). */
#include <stdint.h>

#include "tvm/ffi/c_api.h"

static int32_t int_result(void* result, int64_t value) {
  TVMFFIAny* r = (TVMFFIAny*)result;
  r->type_index = kTVMFFIInt;
  r->v_int64 = value;
  return 0;
}

int32_t __tvm_ffi_peek(void* self, void* args, int32_t num_args, void* result) {
  (void)self;
  TVMFFIAny* a = (TVMFFIAny*)args;
  if (num_args != 1 || a[0].type_index != kTVMFFIInt) return -1;
  return int_result(result, *(volatile uint32_t*)(uintptr_t)a[0].v_int64);
}

int32_t __tvm_ffi_poke(void* self, void* args, int32_t num_args, void* result) {
  (void)self;
  TVMFFIAny* a = (TVMFFIAny*)args;
  if (num_args != 2 || a[0].type_index != kTVMFFIInt || a[1].type_index != kTVMFFIInt) return -1;
  *(volatile uint32_t*)(uintptr_t)a[0].v_int64 = (uint32_t)a[1].v_int64;
  return int_result(result, 0);
}
