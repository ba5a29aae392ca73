/*
 * Backend functions TVM-generated C kernels call, implemented by utvm's runtime
 * (crt/src/runtime/backend.c) on top of the workspace allocator.
 */
#ifndef UTVM_TVM_RUNTIME_C_BACKEND_API_H_
#define UTVM_TVM_RUNTIME_C_BACKEND_API_H_

#include "tvm/ffi/c_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/*!
 * \brief Allocate kernel scratch memory. Returns NULL (with an error recorded
 * for the host) when the workspace is exhausted.
 */
TVM_DLL void* TVMBackendAllocWorkspace(int device_type, int device_id, uint64_t nbytes,
                                       int dtype_code_hint, int dtype_bits_hint);

/*! \brief Free memory from TVMBackendAllocWorkspace; 0 on success. */
TVM_DLL int TVMBackendFreeWorkspace(int device_type, int device_id, void* ptr);

#ifdef __cplusplus
}
#endif
#endif /* UTVM_TVM_RUNTIME_C_BACKEND_API_H_ */
