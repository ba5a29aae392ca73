/* Internals shared by the RPC server's files (not part of the public API). */
#ifndef UTVM_RPC_INTERNAL_H_
#define UTVM_RPC_INTERNAL_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tvm/ffi/c_api.h"
#include "utvm/rpc_server.h"
#include "utvm/runtime.h"

/* RPC codes of protocol 0.8.0. */
enum {
  kRPCNone = 0,
  kRPCShutdown = 1,
  kRPCInitServer = 2,
  kRPCCallFunc = 3,
  kRPCReturn = 4,
  kRPCException = 5,
  kRPCCopyFromRemote = 6,
  kRPCCopyToRemote = 7,
  kRPCCopyAck = 8,
  kRPCGetGlobalFunc = 9,
  kRPCFreeHandle = 10,
  kRPCDevSetDevice = 11,
  kRPCDevGetAttr = 12,
  kRPCDevAllocData = 13,
  kRPCDevFreeData = 14,
  kRPCDevStreamSync = 15,
  kRPCCopyAmongRemote = 16,
  kRPCDevAllocDataWithScope = 17,
  kRPCDevCreateStream = 18,
  kRPCDevFreeStream = 19,
  kRPCDevSetStream = 20,
  kRPCDevGetCurrentStream = 21,
};

#define UTVM_RPC_PROTOCOL_VERSION "0.8.0"
#define UTVM_RPC_OBJECT_REF_TYPE (kTVMFFIDynObjectBegin - 13)
#define UTVM_MAX_NDIM 16

/* Bounds-checked little-endian reader over a (mutable) packet body. */
typedef struct {
  uint8_t* p;
  size_t n;
  size_t pos;
  const char* err; /* first failure, NULL while fine */
} utvm_reader_t;

uint8_t* utvm_reader_span(utvm_reader_t* r, uint64_t k);
bool utvm_reader_i32(utvm_reader_t* r, int32_t* v);
bool utvm_reader_u64(utvm_reader_t* r, uint64_t* v);

/* Decode a DLTensor (wire form) / a packed argument sequence into the arena. */
DLTensor* utvm_rpc_decode_tensor(utvm_rpc_server_t* s, utvm_reader_t* r);
bool utvm_rpc_decode_args(utvm_rpc_server_t* s, utvm_reader_t* r, TVMFFIAny** args, int32_t* num_args);

/* Reply helpers: every reply is one RPC packet. */
void utvm_rpc_reply_begin(utvm_rpc_server_t* s, int32_t code, size_t body_after_code);
void utvm_rpc_reply_write(utvm_rpc_server_t* s, const void* data, size_t n);
void utvm_rpc_reply_end(utvm_rpc_server_t* s);
void utvm_rpc_reply_exception(utvm_rpc_server_t* s, const char* msg);
void utvm_rpc_reply_exception_parts(utvm_rpc_server_t* s, const char* const* parts, int n);
void utvm_rpc_reply_values(utvm_rpc_server_t* s, const TVMFFIAny* values, int32_t n);

/* Checks and reply helpers shared by the request handlers (rpc_syscalls.c). Each check
 * replies with an Exception itself and returns false when the request is refused. */
bool utvm_rpc_check_tensor_range(utvm_rpc_server_t* s, const DLTensor* t, uint64_t nbytes,
                                 const char* what);
/* A whole tensor as a DLPack view: numel * itemsize bytes (in *nbytes) at data + byte_offset. */
bool utvm_rpc_check_tensor_view(utvm_rpc_server_t* s, const DLTensor* t, const char* what,
                                uint64_t* nbytes);
void utvm_rpc_syscall(utvm_rpc_server_t* s, int32_t code, TVMFFIAny* a, int32_t n);

/* Globals, handles and closures (rpc_globals.c). The server's own globals are bound to it
 * (s->globals, each with s as its self): a global finds its server there, no "current" one. */
void utvm_rpc_bind_globals(utvm_rpc_server_t* s);
const utvm_func_t* utvm_rpc_find_function(utvm_rpc_server_t* s, const char* name);
const utvm_func_t* utvm_rpc_func_from_handle(utvm_rpc_server_t* s, uint64_t handle);
void utvm_rpc_release_handle(uint64_t handle);
void utvm_rpc_handles_reset(void);

/* Free arena space of s for a global to build its return value in (rpc_codec.c). */
char* utvm_rpc_scratch(utvm_rpc_server_t* s, size_t* cap);

/* Values to reply with. */
static inline TVMFFIAny utvm_rpc_any_none(void) {
  TVMFFIAny v;
  memset(&v, 0, sizeof(v));
  return v;
}

static inline TVMFFIAny utvm_rpc_any_ptr(void* p) {
  TVMFFIAny v = utvm_rpc_any_none();
  v.type_index = p ? kTVMFFIOpaquePtr : kTVMFFINone;
  v.v_ptr = p;
  return v;
}

static inline TVMFFIAny utvm_rpc_any_int(int64_t x) {
  TVMFFIAny v = utvm_rpc_any_none();
  v.type_index = kTVMFFIInt;
  v.v_int64 = x;
  return v;
}

static inline void utvm_rpc_reply_one(utvm_rpc_server_t* s, TVMFFIAny v) { utvm_rpc_reply_values(s, &v, 1); }

#endif /* UTVM_RPC_INTERNAL_H_ */
