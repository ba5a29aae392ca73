/*
 * utvm's own definition of the TVM-FFI C ABI subset that kernels emitted by
 * `tvm.build(mod, target="c")` (apache-tvm 0.27) use. Layout-identical to
 * TVM-FFI's tvm/ffi/c_api.h (checked by tests/test_abi_layout.py).
 */
#ifndef UTVM_TVM_FFI_C_API_H_
#define UTVM_TVM_FFI_C_API_H_

#include <stddef.h>
#include <stdint.h>

#include "dlpack/dlpack.h"

#ifndef TVM_DLL
#define TVM_DLL
#endif
#ifndef TVM_FFI_DLL
#define TVM_FFI_DLL
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*! \brief Type indices of values carried in a TVMFFIAny. */
typedef enum {
  kTVMFFIAny = -1,
  kTVMFFINone = 0,
  kTVMFFIInt = 1,
  kTVMFFIBool = 2,
  kTVMFFIFloat = 3,
  kTVMFFIOpaquePtr = 4,
  kTVMFFIDataType = 5,
  kTVMFFIDevice = 6,
  kTVMFFIDLTensorPtr = 7,
  kTVMFFIRawStr = 8,
  kTVMFFIByteArrayPtr = 9,
  kTVMFFIObjectRValueRef = 10,
  kTVMFFISmallStr = 11,
  kTVMFFISmallBytes = 12,
  kTVMFFIStaticObjectBegin = 64,
  kTVMFFIObject = 64,
  kTVMFFIStr = 65,
  kTVMFFIBytes = 66,
  kTVMFFIError = 67,
  kTVMFFIFunction = 68,
  kTVMFFIShape = 69,
  kTVMFFITensor = 70,
  kTVMFFIArray = 71,
  kTVMFFIMap = 72,
  kTVMFFIModule = 73,
  kTVMFFIDynObjectBegin = 128
} TVMFFITypeIndex;

/*! \brief Header of a reference-counted object (Tensor data follows at +24). */
typedef struct {
  uint64_t combined_ref_count;
  int32_t type_index;
  uint32_t __padding;
  union {
    void (*deleter)(void* self, int flags);
    int64_t __ensure_align;
  };
} TVMFFIObject;

/*! \brief A tagged value: 16 bytes on every target. */
typedef struct {
  int32_t type_index;
  union {
    uint32_t zero_padding;
    uint32_t small_str_len;
  };
  union {
    int64_t v_int64;
    double v_float64;
    void* v_ptr;
    const char* v_c_str;
    TVMFFIObject* v_obj;
    DLDataType v_dtype;
    DLDevice v_device;
    char v_bytes[8];
    uint64_t v_uint64;
  };
} TVMFFIAny;

typedef struct {
  const char* data;
  size_t size;
} TVMFFIByteArray;

/*! \brief Signature of every callable in the runtime (kernels, globals, closures). */
typedef int32_t (*TVMFFISafeCallType)(void* self, const TVMFFIAny* args, int32_t num_args,
                                      TVMFFIAny* result);

/*!
 * \brief Record an error raised by a kernel: "kind: part0part1...".
 * The kernel then returns -1; the RPC server sends the message to the host.
 */
TVM_FFI_DLL void TVMFFIErrorSetRaisedFromCStrParts(const char* kind, const char** message_parts,
                                                   int32_t num_parts);

/*! \brief Same as above with a single message string. */
TVM_FFI_DLL void TVMFFIErrorSetRaisedFromCStr(const char* kind, const char* message);

#ifdef __cplusplus
}
#endif
#endif /* UTVM_TVM_FFI_C_API_H_ */
