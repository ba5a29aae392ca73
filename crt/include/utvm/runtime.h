/*
 * The runtime: the function registry (system library), callable objects and
 * handles, the last-error slot kernels write, and the allocators it uses.
 */
#ifndef UTVM_RUNTIME_H_
#define UTVM_RUNTIME_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tvm/ffi/c_api.h"
#include "utvm/memory.h"
#include "utvm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The calling convention of kernels emitted by TVM 0.27 (target "c"). Every
 * callable in the runtime uses it: args is TVMFFIAny[num_args], result a TVMFFIAny*. */
typedef int32_t (*utvm_packed_fn)(void* self, void* args, int32_t num_args, void* result);

/* A named callable. self is passed as the first argument. */
typedef struct {
  const char* name;
  utvm_packed_fn fn;
  void* self;
} utvm_func_t;

/* A fixed table of functions: the system library of an image. */
typedef struct {
  const utvm_func_t* funcs;
  size_t count;
} utvm_func_registry_t;

/* A module: a named group of functions (the system library, later graphs). */
typedef struct {
  const char* kind;
  const utvm_func_registry_t* registry;
} utvm_module_t;

typedef struct {
  const utvm_func_registry_t* system_lib; /* kernels built into the image */
  utvm_allocator_t* data;                 /* tensors the host allocates */
  utvm_allocator_t* workspace;            /* TVMBackendAllocWorkspace */
  const utvm_func_registry_t* globals;    /* optional: global functions the image adds (a model's) */
} utvm_runtime_config_t;

/* Set up the runtime; the config is copied. */
utvm_status_t utvm_runtime_init(const utvm_runtime_config_t* config);
const utvm_runtime_config_t* utvm_runtime_config(void);

/* Look a function up in a registry by name; NULL when absent. */
const utvm_func_t* utvm_registry_find(const utvm_func_registry_t* reg, const char* name);

/* The system library as a module. */
const utvm_module_t* utvm_system_lib_module(void);
/* Modules besides the system library that handles may name (a graph executor).
 * Registering twice is harmless; the table is emptied by utvm_runtime_forget_modules(),
 * which a new RPC session calls (its memory is gone, so are its modules). */
#ifndef UTVM_MAX_MODULES
#define UTVM_MAX_MODULES 4
#endif
utvm_status_t utvm_runtime_register_module(const utvm_module_t* m);
bool utvm_runtime_module_registered(const utvm_module_t* m);
void utvm_runtime_forget_modules(void);
/* The i-th registered module, NULL past the end. */
const utvm_module_t* utvm_runtime_module(size_t i);

/* Last error: set by kernels (TVMFFIErrorSetRaisedFromCStrParts) and the runtime. */
void utvm_error_clear(void);
void utvm_error_set(const char* kind, const char* message);
/* Append parts; a NULL part ends the list early. Truncates to UTVM_ERROR_MSG_SIZE. */
void utvm_error_set_parts(const char* kind, const char* const* parts, int32_t num_parts);
const char* utvm_error_get(void); /* "" when none */

/* Format an unsigned/signed integer into buf (at least 21 bytes); returns buf. */
char* utvm_fmt_u64(char* buf, uint64_t value);
char* utvm_fmt_i64(char* buf, int64_t value);

/* Call a function with the TVM-FFI convention; result is set to None first.
 * Returns 0, or -1 with utvm_error_get() describing the failure. */
int32_t utvm_func_call(const utvm_func_t* f, TVMFFIAny* args, int32_t num_args, TVMFFIAny* result);

/* Number of bytes of a compact tensor; false on overflow or bad dtype. */
bool utvm_tensor_nbytes(const DLTensor* t, uint64_t* out);

#ifdef __cplusplus
}
#endif
#endif /* UTVM_RUNTIME_H_ */
