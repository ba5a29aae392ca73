/* Included by TVM-generated C; utvm needs nothing beyond c_api.h. */
#ifndef UTVM_TVM_RUNTIME_BASE_H_
#define UTVM_TVM_RUNTIME_BASE_H_
#include "tvm/ffi/c_api.h"
#endif
