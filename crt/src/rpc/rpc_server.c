/* RPC server: packet assembly and dispatch of protocol 0.8.0 requests. */
#include <string.h>

#include "rpc_internal.h"

void utvm_rpc_server_init(utvm_rpc_server_t* s, utvm_rpc_out_t out) {
  memset(s, 0, sizeof(*s));
  s->out = out;
}

void utvm_rpc_server_reset(utvm_rpc_server_t* s) {
  s->rx_fill = 0;
  s->discard = 0;
  s->shutdown = false;
  s->out_error = false;
  rpc_handles_reset();
  utvm_alloc_reset(utvm_runtime_config()->data);
  utvm_alloc_reset(utvm_runtime_config()->workspace);
}

uint8_t* utvm_rpc_server_rx_space(utvm_rpc_server_t* s, size_t* cap) {
  *cap = UTVM_RPC_RX_CAPACITY - s->rx_fill;
  return s->rx + s->rx_fill;
}

/* The server handling the current request (for globals that need scratch space). */
static utvm_rpc_server_t* g_current;

char* rpc_scratch(size_t* cap) {
  size_t at = (g_current->arena_used + 7u) & ~(size_t)7u;
  *cap = at < sizeof(g_current->arena) ? sizeof(g_current->arena) - at : 0;
  return (char*)g_current->arena + at;
}

/* ---- argument checks ---- */

static const char* type_name(int32_t t) {
  switch (t) {
    case kTVMFFINone: return "None";
    case kTVMFFIInt: return "int";
    case kTVMFFIBool: return "bool";
    case kTVMFFIFloat: return "float";
    case kTVMFFIOpaquePtr: return "handle";
    case kTVMFFIDataType: return "dtype";
    case kTVMFFIDevice: return "Device";
    case kTVMFFIDLTensorPtr: return "Tensor";
    case kTVMFFIRawStr: return "str";
    case kTVMFFIByteArrayPtr: return "bytes";
    case kTVMFFIFunction: return "Function";
    case kTVMFFIModule: return "Module";
    default: return "object";
  }
}

/* True when args match `sig` (one letter per argument: i int, p handle, d device,
 * t dtype, s str, T tensor, S str-or-None); otherwise replies with an exception. */
static bool check_args(utvm_rpc_server_t* s, const char* what, const TVMFFIAny* a, int32_t n,
                       const char* sig) {
  int32_t want = (int32_t)strlen(sig);
  char nb[12], gb[12];
  if (n != want) {
    const char* parts[6] = {"TypeError: ", what, " expects ", utvm_fmt_i64(nb, want),
                            " arguments, got ", utvm_fmt_i64(gb, n)};
    reply_exception_parts(s, parts, 6);
    return false;
  }
  for (int32_t i = 0; i < n; ++i) {
    int32_t t = a[i].type_index;
    bool ok;
    switch (sig[i]) {
      case 'i': ok = t == kTVMFFIInt || t == kTVMFFIBool; break;
      case 'p': ok = t == kTVMFFIOpaquePtr || t == kTVMFFINone; break;
      case 'd': ok = t == kTVMFFIDevice; break;
      case 't': ok = t == kTVMFFIDataType; break;
      case 's': ok = t == kTVMFFIRawStr; break;
      case 'S': ok = t == kTVMFFIRawStr || t == kTVMFFINone; break;
      case 'T': ok = t == kTVMFFIDLTensorPtr; break;
      default: ok = false;
    }
    if (!ok) {
      const char* parts[5] = {"TypeError: ", what, ": argument ", utvm_fmt_i64(nb, i),
                              " has the wrong type: "};
      const char* parts2[7] = {parts[0], parts[1], parts[2], parts[3], parts[4], type_name(t), ""};
      reply_exception_parts(s, parts2, 7);
      return false;
    }
  }
  return true;
}

static bool check_cpu(utvm_rpc_server_t* s, DLDevice dev) {
  if (dev.device_type == kDLCPU && dev.device_id == 0) return true;
  reply_exception(s, "ValueError: this device only has cpu(0)");
  return false;
}

/* The tensor's bytes [data+byte_offset, +nbytes) must be memory this session allocated. */
static bool check_tensor_range(utvm_rpc_server_t* s, const DLTensor* t, uint64_t nbytes,
                               const char* what) {
  uint64_t total;
  if (!check_cpu(s, t->device)) return false;
  if (!utvm_tensor_nbytes(t, &total) || t->byte_offset > total ||
      nbytes > total - t->byte_offset) {
    const char* parts[3] = {"ValueError: ", what, ": byte range is outside the tensor's shape"};
    reply_exception_parts(s, parts, 3);
    return false;
  }
  const uint8_t* p = (const uint8_t*)t->data + t->byte_offset;
  if (t->data == NULL || !utvm_alloc_contains(utvm_runtime_config()->data, p, (size_t)nbytes)) {
    const char* parts[3] = {"ValueError: ", what,
                            ": tensor data is not device memory allocated in this session"};
    reply_exception_parts(s, parts, 3);
    return false;
  }
  return true;
}

static void reply_one(utvm_rpc_server_t* s, TVMFFIAny v) { reply_values(s, &v, 1); }

static TVMFFIAny any_none(void) {
  TVMFFIAny v;
  memset(&v, 0, sizeof(v));
  return v;
}

static TVMFFIAny any_ptr(void* p) {
  TVMFFIAny v = any_none();
  v.type_index = p ? kTVMFFIOpaquePtr : kTVMFFINone;
  v.v_ptr = p;
  return v;
}

static TVMFFIAny any_int(int64_t x) {
  TVMFFIAny v = any_none();
  v.type_index = kTVMFFIInt;
  v.v_int64 = x;
  return v;
}

/* ---- requests ---- */

static void do_alloc(utvm_rpc_server_t* s, uint64_t nbytes, uint64_t alignment) {
  if (alignment == 0) alignment = 1;
  if ((alignment & (alignment - 1)) != 0 || alignment > 4096) {
    reply_exception(s, "ValueError: allocation alignment must be a power of two <= 4096");
    return;
  }
  utvm_allocator_t* data = utvm_runtime_config()->data;
  void* p = nbytes <= SIZE_MAX ? utvm_alloc(data, (size_t)nbytes, (size_t)alignment) : NULL;
  if (p == NULL) {
    char req[21], avail[21];
    utvm_alloc_stats_t st;
    utvm_alloc_get_stats(data, &st);
    const char* parts[5] = {"MemoryError: device out of memory: requested ",
                            utvm_fmt_u64(req, nbytes), " bytes, largest free block is ",
                            utvm_fmt_u64(avail, st.largest_free), " bytes"};
    reply_exception_parts(s, parts, 5);
    return;
  }
  reply_one(s, any_ptr(p));
}

static void do_get_attr(utvm_rpc_server_t* s, DLDevice dev, int64_t kind) {
  enum { kExist = 0, kDeviceName = 5, kTotalGlobalMemory = 14, kAvailableGlobalMemory = 15 };
  utvm_alloc_stats_t st;
  utvm_alloc_get_stats(utvm_runtime_config()->data, &st);
  bool cpu = dev.device_type == kDLCPU && dev.device_id == 0;
  TVMFFIAny v = any_none();
  if (kind == kExist) {
    v = any_int(cpu ? 1 : 0);
  } else if (cpu && kind == kDeviceName) {
    v.type_index = kTVMFFIRawStr;
    v.v_c_str = "utvm";
  } else if (cpu && kind == kTotalGlobalMemory) {
    v = any_int((int64_t)st.capacity);
  } else if (cpu && kind == kAvailableGlobalMemory) {
    v = any_int((int64_t)st.largest_free);
  }
  reply_one(s, v);
}

static void do_syscall(utvm_rpc_server_t* s, int32_t code, TVMFFIAny* a, int32_t n) {
  switch (code) {
    case kRPCGetGlobalFunc:
      if (check_args(s, "GetGlobalFunc", a, n, "s")) {
        reply_one(s, any_ptr((void*)(uintptr_t)rpc_find_function(a[0].v_c_str)));
      }
      return;
    case kRPCFreeHandle:
      if (check_args(s, "FreeHandle", a, n, "p")) {
        rpc_release_handle((uint64_t)(uintptr_t)a[0].v_ptr);
        reply_one(s, any_none());
      }
      return;
    case kRPCDevSetDevice:
      if (check_args(s, "DevSetDevice", a, n, "d") && check_cpu(s, a[0].v_device)) {
        reply_one(s, any_none());
      }
      return;
    case kRPCDevGetAttr:
      if (check_args(s, "DevGetAttr", a, n, "di")) do_get_attr(s, a[0].v_device, a[1].v_int64);
      return;
    case kRPCDevAllocData:
      if (check_args(s, "DevAllocData", a, n, "diit") && check_cpu(s, a[0].v_device)) {
        do_alloc(s, (uint64_t)a[1].v_int64, (uint64_t)a[2].v_int64);
      }
      return;
    case kRPCDevAllocDataWithScope: {
      if (!check_args(s, "DevAllocDataWithScope", a, n, "TS")) return;
      const DLTensor* t = (const DLTensor*)a[0].v_ptr;
      uint64_t nbytes;
      if (a[1].type_index == kTVMFFIRawStr && strcmp(a[1].v_c_str, "global") != 0) {
        reply_exception(s, "ValueError: memory scope not supported (only \"global\")");
      } else if (!utvm_tensor_nbytes(t, &nbytes)) {
        reply_exception(s, "ValueError: DevAllocDataWithScope: invalid shape or dtype");
      } else if (check_cpu(s, t->device)) {
        do_alloc(s, nbytes, 64);
      }
      return;
    }
    case kRPCDevFreeData:
      if (check_args(s, "DevFreeData", a, n, "dp") && check_cpu(s, a[0].v_device)) {
        if (utvm_free(utvm_runtime_config()->data, a[1].v_ptr) != UTVM_OK) {
          reply_exception(s, "ValueError: DevFreeData: pointer was not allocated by this session");
        } else {
          reply_one(s, any_none());
        }
      }
      return;
    case kRPCDevStreamSync:
      if (check_args(s, "DevStreamSync", a, n, "dp") && check_cpu(s, a[0].v_device)) {
        reply_one(s, any_none());
      }
      return;
    case kRPCCopyAmongRemote: {
      if (!check_args(s, "CopyAmongRemote", a, n, "TTp")) return;
      const DLTensor* from = (const DLTensor*)a[0].v_ptr;
      const DLTensor* to = (const DLTensor*)a[1].v_ptr;
      uint64_t nb_from, nb_to;
      if (!utvm_tensor_nbytes(from, &nb_from) || !utvm_tensor_nbytes(to, &nb_to) ||
          nb_from - (nb_from > from->byte_offset ? from->byte_offset : nb_from) !=
              nb_to - (nb_to > to->byte_offset ? to->byte_offset : nb_to)) {
        reply_exception(s, "ValueError: CopyAmongRemote: tensors differ in size");
        return;
      }
      uint64_t nbytes = nb_to - to->byte_offset;
      if (check_tensor_range(s, from, nbytes, "CopyAmongRemote") &&
          check_tensor_range(s, to, nbytes, "CopyAmongRemote")) {
        memmove((uint8_t*)to->data + to->byte_offset,
                (const uint8_t*)from->data + from->byte_offset, (size_t)nbytes);
        reply_one(s, any_none());
      }
      return;
    }
    default: {
      char cb[12];
      const char* parts[3] = {"RuntimeError: RPC syscall ", utvm_fmt_i64(cb, code),
                              " (streams) is not supported by this device"};
      reply_exception_parts(s, parts, 3);
      return;
    }
  }
}

/* Return convention of CallFunc: [int type_index, value]. */
static void reply_call_result(utvm_rpc_server_t* s, const TVMFFIAny* rv) {
  TVMFFIAny out[2];
  out[0] = any_int(rv->type_index);
  out[1] = *rv;
  switch (rv->type_index) {
    case kTVMFFIRawStr:
      out[0] = any_int(kTVMFFIStr);
      break;
    case kTVMFFIByteArrayPtr:
      out[0] = any_int(kTVMFFIBytes);
      break;
    case kTVMFFIFunction:
    case kTVMFFIModule:
      out[1] = any_ptr(rv->v_ptr);
      break;
    default:
      break;
  }
  reply_values(s, out, 2);
}

static void do_call(utvm_rpc_server_t* s, uint64_t handle, TVMFFIAny* a, int32_t n) {
  const utvm_func_t* f = rpc_func_from_handle(handle);
  if (f == NULL) {
    reply_exception(s, "ValueError: CallFunc: invalid or freed function handle");
    return;
  }
  for (int32_t i = 0; i < n; ++i) {
    uint64_t nbytes;
    const DLTensor* t = (const DLTensor*)a[i].v_ptr;
    if (a[i].type_index != kTVMFFIDLTensorPtr) continue;
    if (!utvm_tensor_nbytes(t, &nbytes)) {
      reply_exception(s, "ValueError: CallFunc: tensor argument has an invalid shape or dtype");
      return;
    }
    if (!check_tensor_range(s, t, nbytes - (t->byte_offset < nbytes ? t->byte_offset : nbytes),
                            f->name)) {
      return;
    }
  }
  TVMFFIAny rv;
  if (utvm_func_call(f, a, n, &rv) != 0) {
    reply_exception(s, utvm_error_get());
    return;
  }
  reply_call_result(s, &rv);
}

static void do_copy(utvm_rpc_server_t* s, int32_t code, utvm_reader_t* r) {
  uint64_t nbytes;
  DLTensor* t = decode_tensor(s, r);
  if (t == NULL || !rd_u64(r, &nbytes)) return;
  const char* what = code == kRPCCopyToRemote ? "CopyToRemote" : "CopyFromRemote";
  if (code == kRPCCopyToRemote) {
    uint8_t* src = rd_span(r, nbytes);
    if (src == NULL || r->pos != r->n) return; /* reported by the caller */
    if (check_tensor_range(s, t, nbytes, what)) {
      memcpy((uint8_t*)t->data + t->byte_offset, src, (size_t)nbytes);
      reply_one(s, any_none());
    }
    return;
  }
  if (r->pos != r->n || !check_tensor_range(s, t, nbytes, what)) return;
  reply_begin(s, kRPCCopyAck, (size_t)nbytes);
  reply_write(s, (const uint8_t*)t->data + t->byte_offset, (size_t)nbytes);
  reply_end(s);
}

static void do_init_server(utvm_rpc_server_t* s, utvm_reader_t* r) {
  uint64_t len;
  TVMFFIAny* a;
  int32_t n;
  if (!rd_u64(r, &len)) return;
  const uint8_t* ver = rd_span(r, len);
  if (ver == NULL || !decode_args(s, r, &a, &n) || r->pos != r->n) return;
  const size_t want = sizeof(UTVM_RPC_PROTOCOL_VERSION) - 1;
  if (len != want || memcmp(ver, UTVM_RPC_PROTOCOL_VERSION, want) != 0) {
    reply_exception(s, "RuntimeError: RPC protocol version mismatch: device speaks "
                       UTVM_RPC_PROTOCOL_VERSION);
  } else if (n != 0) {
    reply_exception(s, "RuntimeError: session constructors are not supported on a device");
  } else {
    reply_one(s, any_none());
  }
}

static void handle_packet(utvm_rpc_server_t* s, uint8_t* body, size_t n) {
  utvm_reader_t r = {body, n, 0, NULL};
  int32_t code;
  s->arena_used = 0;
  s->stats.packets++;
  uint32_t exceptions_before = s->stats.exceptions;
  if (!rd_i32(&r, &code)) {
    reply_exception(s, "ValueError: malformed RPC packet: no code");
    return;
  }
  if (code == kRPCShutdown) {
    s->shutdown = true;
    return;
  }
  if (code == kRPCInitServer) {
    do_init_server(s, &r);
  } else if (code == kRPCCopyToRemote || code == kRPCCopyFromRemote) {
    do_copy(s, code, &r);
  } else if (code == kRPCCallFunc || (code >= kRPCGetGlobalFunc && code <= kRPCDevGetCurrentStream)) {
    uint64_t handle = 0;
    TVMFFIAny* a;
    int32_t na;
    if ((code != kRPCCallFunc || rd_u64(&r, &handle)) && decode_args(s, &r, &a, &na)) {
      if (r.pos != r.n) {
        r.err = "malformed RPC packet: trailing bytes";
      } else if (code == kRPCCallFunc) {
        do_call(s, handle, a, na);
      } else {
        do_syscall(s, code, a, na);
      }
    }
  } else {
    char cb[12];
    const char* parts[2] = {"ValueError: unexpected RPC code ", utvm_fmt_i64(cb, code)};
    reply_exception_parts(s, parts, 2);
    return;
  }
  /* A decoding failure that no handler answered yet. */
  if (s->stats.exceptions == exceptions_before && (r.err != NULL || r.pos != r.n)) {
    const char* parts[2] = {"ValueError: ", r.err ? r.err : "malformed RPC packet: trailing bytes"};
    reply_exception_parts(s, parts, 2);
  }
}

static void drop_front(utvm_rpc_server_t* s, size_t k) {
  memmove(s->rx, s->rx + k, s->rx_fill - k);
  s->rx_fill -= k;
}

utvm_status_t utvm_rpc_server_commit(utvm_rpc_server_t* s, size_t n) {
  g_current = s;
  s->rx_fill += n;
  while (!s->out_error) {
    if (s->discard > 0) {
      size_t k = s->discard < s->rx_fill ? (size_t)s->discard : s->rx_fill;
      drop_front(s, k);
      s->discard -= k;
      if (s->discard > 0) break;
    }
    uint64_t nbytes;
    if (s->rx_fill < 8) break;
    memcpy(&nbytes, s->rx, 8);
    if (nbytes > UTVM_MAX_PACKET_SIZE) {
      char nb[21], mb[21];
      s->stats.oversized++;
      s->discard = nbytes > UINT64_MAX - 8 ? UINT64_MAX : nbytes + 8;
      const char* parts[5] = {"ValueError: RPC packet of ", utvm_fmt_u64(nb, nbytes),
                              " bytes exceeds the device's maximum of ",
                              utvm_fmt_u64(mb, UTVM_MAX_PACKET_SIZE), " bytes"};
      reply_exception_parts(s, parts, 5);
      continue;
    }
    if (s->rx_fill < 8 + nbytes) break;
    handle_packet(s, s->rx + 8, (size_t)nbytes);
    drop_front(s, 8 + (size_t)nbytes);
  }
  return s->out_error ? UTVM_ERR_IO : UTVM_OK;
}
