/* Runtime state: configuration, registry lookup, calls and the last-error slot. */
#include <string.h>

#include "utvm/config.h"
#include "utvm/runtime.h"

static utvm_runtime_config_t g_config;
static utvm_module_t g_system_lib = {"system_lib", NULL};
static char g_error[UTVM_ERROR_MSG_SIZE];

static const utvm_func_registry_t kEmptyRegistry = {NULL, 0};

utvm_status_t utvm_runtime_init(const utvm_runtime_config_t* config) {
  if (config == NULL || config->data == NULL || config->workspace == NULL) {
    return UTVM_ERR_INVALID_ARG;
  }
  g_config = *config;
  if (g_config.system_lib == NULL) g_config.system_lib = &kEmptyRegistry;
  g_system_lib.registry = g_config.system_lib;
  utvm_error_clear();
  return UTVM_OK;
}

const utvm_runtime_config_t* utvm_runtime_config(void) { return &g_config; }

const utvm_module_t* utvm_system_lib_module(void) { return &g_system_lib; }

static const utvm_module_t* g_modules[UTVM_MAX_MODULES];

bool utvm_runtime_module_registered(const utvm_module_t* m) {
  for (size_t i = 0; i < UTVM_MAX_MODULES; ++i) {
    if (m != NULL && g_modules[i] == m) return true;
  }
  return false;
}

utvm_status_t utvm_runtime_register_module(const utvm_module_t* m) {
  if (m == NULL) return UTVM_ERR_INVALID_ARG;
  if (utvm_runtime_module_registered(m)) return UTVM_OK;
  for (size_t i = 0; i < UTVM_MAX_MODULES; ++i) {
    if (g_modules[i] == NULL) {
      g_modules[i] = m;
      return UTVM_OK;
    }
  }
  return UTVM_ERR_NO_MEMORY;
}

void utvm_runtime_forget_modules(void) {
  for (size_t i = 0; i < UTVM_MAX_MODULES; ++i) g_modules[i] = NULL;
}

const utvm_module_t* utvm_runtime_module(size_t i) { return i < UTVM_MAX_MODULES ? g_modules[i] : NULL; }

const utvm_func_t* utvm_registry_find(const utvm_func_registry_t* reg, const char* name) {
  if (reg == NULL || name == NULL) return NULL;
  for (size_t i = 0; i < reg->count; ++i) {
    if (strcmp(reg->funcs[i].name, name) == 0) return &reg->funcs[i];
  }
  return NULL;
}

void utvm_error_clear(void) { g_error[0] = '\0'; }

const char* utvm_error_get(void) { return g_error; }

/* Appends s; a message cut at the buffer's size ends in "..." so the cut is visible. */
static size_t append(size_t at, const char* s) {
  while (s != NULL && *s != '\0' && at + 1 < sizeof(g_error)) g_error[at++] = *s++;
  g_error[at] = '\0';
  if (s != NULL && *s != '\0' && at >= 3) memcpy(&g_error[at - 3], "...", 3);
  return at;
}

void utvm_error_set_parts(const char* kind, const char* const* parts, int32_t num_parts) {
  size_t at = append(0, kind != NULL ? kind : "Error");
  at = append(at, ": ");
  for (int32_t i = 0; i < num_parts && parts != NULL && parts[i] != NULL; ++i) {
    at = append(at, parts[i]);
  }
}

void utvm_error_set(const char* kind, const char* message) {
  const char* parts[1] = {message};
  utvm_error_set_parts(kind, parts, 1);
}

void TVMFFIErrorSetRaisedFromCStrParts(const char* kind, const char** message_parts,
                                       int32_t num_parts) {
  utvm_error_set_parts(kind, message_parts, num_parts);
}

void TVMFFIErrorSetRaisedFromCStr(const char* kind, const char* message) {
  utvm_error_set(kind, message);
}

char* utvm_fmt_u64(char* buf, uint64_t value) {
  char tmp[21];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + (value % 10u));
    value /= 10u;
  } while (value != 0);
  for (int i = 0; i < n; ++i) buf[i] = tmp[n - 1 - i];
  buf[n] = '\0';
  return buf;
}

char* utvm_fmt_i64(char* buf, int64_t value) {
  if (value >= 0) return utvm_fmt_u64(buf, (uint64_t)value);
  buf[0] = '-';
  utvm_fmt_u64(buf + 1, (uint64_t)0 - (uint64_t)value);
  return buf;
}

int32_t utvm_func_call(const utvm_func_t* f, TVMFFIAny* args, int32_t num_args,
                       TVMFFIAny* result) {
  memset(result, 0, sizeof(*result));
  utvm_error_clear();
  int32_t rc = f->fn(f->self, args, num_args, result);
  if (rc != 0 && g_error[0] == '\0') {
    const char* parts[3] = {"function '", f->name, "' failed without an error message"};
    utvm_error_set_parts("RuntimeError", parts, 3);
  }
  return rc == 0 ? 0 : -1;
}

bool utvm_tensor_nbytes(const DLTensor* t, uint64_t* out) {
  if (t->ndim < 0 || t->dtype.bits == 0 || t->dtype.lanes == 0) return false;
  uint64_t count = 1;
  for (int32_t i = 0; i < t->ndim; ++i) {
    int64_t d = t->shape[i];
    if (d < 0 || (d != 0 && count > UINT64_MAX / (uint64_t)d)) return false;
    count *= (uint64_t)d;
  }
  uint64_t bits = (uint64_t)t->dtype.bits * t->dtype.lanes;
  if (count > (UINT64_MAX - 7) / bits) return false;
  *out = (count * bits + 7) / 8;
  return true;
}

const char* utvm_status_str(utvm_status_t status) {
  switch (status) {
    case UTVM_OK: return "ok";
    case UTVM_ERR_NO_MEMORY: return "out of memory";
    case UTVM_ERR_INVALID_ARG: return "invalid argument";
    case UTVM_ERR_IO: return "transport error";
    case UTVM_ERR_EOF: return "end of stream";
    case UTVM_ERR_TOO_LARGE: return "too large";
    case UTVM_ERR_NOT_FOUND: return "not found";
    case UTVM_ERR_PLATFORM: return "platform error";
    case UTVM_ERR_STATE: return "invalid state";
    case UTVM_ERR_KERNEL: return "kernel error";
  }
  return "unknown status";
}
