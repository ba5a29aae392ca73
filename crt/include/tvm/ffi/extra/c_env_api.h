/* Environment API included by TVM-generated C; utvm needs nothing beyond c_api.h. */
#ifndef UTVM_TVM_FFI_EXTRA_C_ENV_API_H_
#define UTVM_TVM_FFI_EXTRA_C_ENV_API_H_
#include "tvm/ffi/c_api.h"
#endif
