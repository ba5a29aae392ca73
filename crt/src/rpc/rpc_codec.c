/* Decoding untrusted RPC bytes, and encoding replies. */
#include <string.h>

#include "rpc_internal.h"

static const char kTruncated[] = "malformed RPC packet: truncated";

static bool rd_take(utvm_reader_t* r, void* out, size_t k) {
  if (r->err != NULL || k > r->n - r->pos) {
    if (r->err == NULL) r->err = kTruncated;
    return false;
  }
  memcpy(out, r->p + r->pos, k);
  r->pos += k;
  return true;
}

uint8_t* utvm_reader_span(utvm_reader_t* r, uint64_t k) {
  if (r->err != NULL || k > (uint64_t)(r->n - r->pos)) {
    if (r->err == NULL) r->err = kTruncated;
    return NULL;
  }
  uint8_t* p = r->p + r->pos;
  r->pos += (size_t)k;
  return p;
}

bool utvm_reader_i32(utvm_reader_t* r, int32_t* v) { return rd_take(r, v, 4); }
bool utvm_reader_u64(utvm_reader_t* r, uint64_t* v) { return rd_take(r, v, 8); }

/* Per-request scratch (the argument arena). */
static void* arena_alloc(utvm_rpc_server_t* s, size_t size) {
  size_t at = (s->arena_used + 7u) & ~(size_t)7u;
  if (size > sizeof(s->arena) || at > sizeof(s->arena) - size) return NULL;
  s->arena_used = at + size;
  return s->arena + at;
}

char* utvm_rpc_scratch(utvm_rpc_server_t* s, size_t* cap) {
  size_t at = (s->arena_used + 7u) & ~(size_t)7u;
  *cap = at < sizeof(s->arena) ? sizeof(s->arena) - at : 0;
  return (char*)s->arena + at;
}

static bool to_pointer(uint64_t v, void** out) {
  if (v > (uint64_t)UINTPTR_MAX) return false;
  *out = (void*)(uintptr_t)v;
  return true;
}

DLTensor* utvm_rpc_decode_tensor(utvm_rpc_server_t* s, utvm_reader_t* r) {
  uint64_t data;
  DLTensor* t = (DLTensor*)arena_alloc(s, sizeof(DLTensor));
  if (t == NULL) {
    r->err = "too many arguments for the device's argument arena";
    return NULL;
  }
  if (!utvm_reader_u64(r, &data) || !rd_take(r, &t->device, 8) || !utvm_reader_i32(r, &t->ndim) ||
      !rd_take(r, &t->dtype, 4)) {
    return NULL;
  }
  if (t->ndim < 0 || t->ndim > UTVM_MAX_NDIM) {
    r->err = "malformed tensor: ndim out of range";
    return NULL;
  }
  t->shape = (int64_t*)arena_alloc(s, sizeof(int64_t) * (size_t)(t->ndim ? t->ndim : 1));
  if (t->shape == NULL) {
    r->err = "too many arguments for the device's argument arena";
    return NULL;
  }
  if (!rd_take(r, t->shape, sizeof(int64_t) * (size_t)t->ndim)) return NULL;
  t->strides = NULL;
  if (!utvm_reader_u64(r, &t->byte_offset)) return NULL;
  if (!to_pointer(data, &t->data)) {
    r->err = "malformed tensor: data pointer out of range";
    return NULL;
  }
  return t;
}

/* A string on the wire [u64 len][bytes]: NUL-terminate it in place by moving it
 * one byte down over the last byte of its (already read) length. */
static const char* decode_str(utvm_reader_t* r) {
  uint64_t len;
  if (!utvm_reader_u64(r, &len)) return NULL;
  uint8_t* p = utvm_reader_span(r, len);
  if (p == NULL) return NULL;
  char* str = (char*)(p - 1);
  memmove(str, p, (size_t)len);
  str[len] = '\0';
  return str;
}

static TVMFFIByteArray* decode_bytes(utvm_rpc_server_t* s, utvm_reader_t* r) {
  uint64_t len;
  if (!utvm_reader_u64(r, &len)) return NULL;
  uint8_t* p = utvm_reader_span(r, len);
  TVMFFIByteArray* arr = (TVMFFIByteArray*)arena_alloc(s, sizeof(TVMFFIByteArray));
  if (p == NULL || arr == NULL) {
    if (r->err == NULL) r->err = "too many arguments for the device's argument arena";
    return NULL;
  }
  arr->data = (const char*)p;
  arr->size = (size_t)len;
  return arr;
}

/* Str/Bytes objects arrive as [u32 inner type][u64 len][bytes]. */
static bool decode_object(utvm_rpc_server_t* s, utvm_reader_t* r, TVMFFIAny* v) {
  uint32_t inner;
  if (!rd_take(r, &inner, 4)) return false;
  if (inner == kTVMFFIStr) {
    v->type_index = kTVMFFIRawStr;
    v->v_c_str = decode_str(r);
    return v->v_c_str != NULL;
  }
  if (inner == kTVMFFIBytes) {
    v->type_index = kTVMFFIByteArrayPtr;
    v->v_ptr = decode_bytes(s, r);
    return v->v_ptr != NULL;
  }
  r->err = "unsupported object argument (only str and bytes objects can be sent to a device)";
  return false;
}

static bool decode_value(utvm_rpc_server_t* s, utvm_reader_t* r, TVMFFIAny* v) {
  uint64_t u;
  if (!utvm_reader_i32(r, &v->type_index)) return false;
  v->zero_padding = 0;
  v->v_int64 = 0;
  switch (v->type_index) {
    case kTVMFFINone:
      return true;
    case kTVMFFIInt:
    case kTVMFFIBool:
    case kTVMFFIFloat:
      return rd_take(r, &v->v_int64, 8);
    case kTVMFFIOpaquePtr:
    case kTVMFFIFunction:
    case kTVMFFIModule:
      if (!utvm_reader_u64(r, &u)) return false;
      if (!to_pointer(u, &v->v_ptr)) r->err = "handle out of the device's address range";
      return r->err == NULL;
    case kTVMFFIDataType:
      return rd_take(r, &v->v_dtype, 4) && rd_take(r, &u, 4);
    case kTVMFFIDevice:
      return rd_take(r, &v->v_device, 8);
    case kTVMFFIRawStr:
      v->v_c_str = decode_str(r);
      return v->v_c_str != NULL;
    case kTVMFFIByteArrayPtr:
      v->v_ptr = decode_bytes(s, r);
      return v->v_ptr != NULL;
    case kTVMFFIDLTensorPtr:
      v->v_ptr = utvm_rpc_decode_tensor(s, r);
      return v->v_ptr != NULL;
    default:
      if (v->type_index == kTVMFFISmallStr || v->type_index == kTVMFFISmallBytes ||
          v->type_index >= kTVMFFIStaticObjectBegin) {
        return decode_object(s, r, v);
      }
      r->err = "unknown argument type index";
      return false;
  }
}

bool utvm_rpc_decode_args(utvm_rpc_server_t* s, utvm_reader_t* r, TVMFFIAny** args, int32_t* num_args) {
  int32_t n;
  *args = NULL;
  *num_args = 0;
  if (!utvm_reader_i32(r, &n)) return false;
  if (n < 0 || (size_t)n > sizeof(s->arena) / sizeof(TVMFFIAny)) {
    r->err = "malformed RPC packet: argument count out of range";
    return false;
  }
  TVMFFIAny* a = n ? (TVMFFIAny*)arena_alloc(s, sizeof(TVMFFIAny) * (size_t)n) : NULL;
  if (n && a == NULL) {
    r->err = "too many arguments for the device's argument arena";
    return false;
  }
  for (int32_t i = 0; i < n; ++i) {
    if (!decode_value(s, r, &a[i])) return false;
  }
  *args = a;
  *num_args = n;
  return true;
}

/* ---- encoding ---- */

/* Encoded size of one value (type index + payload); 0 if it cannot be sent. */
static size_t value_wire_size(const TVMFFIAny* v) {
  switch (v->type_index) {
    case kTVMFFINone:
      return 4;
    case kTVMFFIInt:
    case kTVMFFIBool:
    case kTVMFFIFloat:
    case kTVMFFIOpaquePtr:
    case kTVMFFIDataType:
    case kTVMFFIDevice:
      return 12;
    case kTVMFFIRawStr:
      return 12 + strlen(v->v_c_str);
    case kTVMFFIByteArrayPtr:
      return 12 + ((const TVMFFIByteArray*)v->v_ptr)->size;
    default:
      return 0;
  }
}

static void write_value(utvm_rpc_server_t* s, const TVMFFIAny* v) {
  utvm_rpc_reply_write(s, &v->type_index, 4);
  switch (v->type_index) {
    case kTVMFFIInt:
    case kTVMFFIBool:
    case kTVMFFIFloat:
      utvm_rpc_reply_write(s, &v->v_int64, 8);
      break;
    case kTVMFFIOpaquePtr: {
      uint64_t h = (uint64_t)(uintptr_t)v->v_ptr;
      utvm_rpc_reply_write(s, &h, 8);
      break;
    }
    case kTVMFFIDataType: {
      uint8_t buf[8] = {0};
      memcpy(buf, &v->v_dtype, 4);
      utvm_rpc_reply_write(s, buf, 8);
      break;
    }
    case kTVMFFIDevice:
      utvm_rpc_reply_write(s, &v->v_device, 8);
      break;
    case kTVMFFIRawStr: {
      uint64_t len = strlen(v->v_c_str);
      utvm_rpc_reply_write(s, &len, 8);
      utvm_rpc_reply_write(s, v->v_c_str, (size_t)len);
      break;
    }
    case kTVMFFIByteArrayPtr: {
      const TVMFFIByteArray* b = (const TVMFFIByteArray*)v->v_ptr;
      uint64_t len = b->size;
      utvm_rpc_reply_write(s, &len, 8);
      utvm_rpc_reply_write(s, b->data, b->size);
      break;
    }
    default:
      break;
  }
}

void utvm_rpc_reply_begin(utvm_rpc_server_t* s, int32_t code, size_t body_after_code) {
  uint64_t nbytes = 4 + (uint64_t)body_after_code;
  if (s->out.begin(s->out.ctx, (size_t)(8 + nbytes)) != UTVM_OK) s->out_error = true;
  utvm_rpc_reply_write(s, &nbytes, 8);
  utvm_rpc_reply_write(s, &code, 4);
}

void utvm_rpc_reply_write(utvm_rpc_server_t* s, const void* data, size_t n) {
  if (s->out_error || n == 0) return;
  if (s->out.write(s->out.ctx, (const uint8_t*)data, n) != UTVM_OK) s->out_error = true;
}

void utvm_rpc_reply_end(utvm_rpc_server_t* s) {
  if (!s->out_error && s->out.end(s->out.ctx) != UTVM_OK) s->out_error = true;
}

void utvm_rpc_reply_exception_parts(utvm_rpc_server_t* s, const char* const* parts, int n) {
  uint64_t len = 0;
  for (int i = 0; i < n; ++i) len += strlen(parts[i]);
  int32_t one = 1, type = kTVMFFIRawStr;
  s->stats.exceptions++;
  utvm_rpc_reply_begin(s, kRPCException, 4 + 4 + 8 + (size_t)len);
  utvm_rpc_reply_write(s, &one, 4);
  utvm_rpc_reply_write(s, &type, 4);
  utvm_rpc_reply_write(s, &len, 8);
  for (int i = 0; i < n; ++i) utvm_rpc_reply_write(s, parts[i], strlen(parts[i]));
  utvm_rpc_reply_end(s);
}

void utvm_rpc_reply_exception(utvm_rpc_server_t* s, const char* msg) {
  utvm_rpc_reply_exception_parts(s, &msg, 1);
}

void utvm_rpc_reply_values(utvm_rpc_server_t* s, const TVMFFIAny* values, int32_t n) {
  size_t size = 4;
  for (int32_t i = 0; i < n; ++i) {
    size_t k = value_wire_size(&values[i]);
    if (k == 0) {
      utvm_rpc_reply_exception(s, "TypeError: the device cannot send a value of this type");
      return;
    }
    size += k;
  }
  utvm_rpc_reply_begin(s, kRPCReturn, size);
  utvm_rpc_reply_write(s, &n, 4);
  for (int32_t i = 0; i < n; ++i) write_value(s, &values[i]);
  utvm_rpc_reply_end(s);
}
