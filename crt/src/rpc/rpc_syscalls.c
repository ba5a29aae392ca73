/* RPC syscalls (codes 9..21): memory, devices, handles; and the checks they share. */
#include <string.h>

#include "rpc_internal.h"

static bool check_cpu(utvm_rpc_server_t* s, DLDevice dev) {
  if (dev.device_type == kDLCPU && dev.device_id == 0) return true;
  utvm_rpc_reply_exception(s, "ValueError: this device only has cpu(0)");
  return false;
}

/* The tensor's bytes [data+byte_offset, +nbytes) must be memory this session allocated. */
bool utvm_rpc_check_tensor_range(utvm_rpc_server_t* s, const DLTensor* t, uint64_t nbytes,
                        const char* what) {
  uint64_t total;
  if (!check_cpu(s, t->device)) return false;
  if (!utvm_tensor_nbytes(t, &total) || t->byte_offset > total ||
      nbytes > total - t->byte_offset) {
    const char* parts[3] = {"ValueError: ", what, ": byte range is outside the tensor's shape"};
    utvm_rpc_reply_exception_parts(s, parts, 3);
    return false;
  }
  const uint8_t* p = (const uint8_t*)t->data + t->byte_offset;
  if (t->data == NULL || !utvm_alloc_contains(utvm_runtime_config()->data, p, (size_t)nbytes)) {
    const char* parts[3] = {"ValueError: ", what,
                            ": tensor data is not device memory allocated in this session"};
    utvm_rpc_reply_exception_parts(s, parts, 3);
    return false;
  }
  return true;
}

/* A tensor handed to a kernel or copied whole: a DLPack view, whose numel * itemsize bytes
 * start at data + byte_offset; all of them must be memory this session allocated. */
bool utvm_rpc_check_tensor_view(utvm_rpc_server_t* s, const DLTensor* t, const char* what,
                       uint64_t* nbytes) {
  if (!check_cpu(s, t->device)) return false;
  if (!utvm_tensor_nbytes(t, nbytes) || t->byte_offset > UINT64_MAX - *nbytes) {
    const char* parts[3] = {"ValueError: ", what, ": tensor has an invalid shape or dtype"};
    utvm_rpc_reply_exception_parts(s, parts, 3);
    return false;
  }
  const uint8_t* p = (const uint8_t*)t->data + t->byte_offset;
  if (t->data == NULL || !utvm_alloc_contains(utvm_runtime_config()->data, p, (size_t)*nbytes)) {
    const char* parts[3] = {"ValueError: ", what,
                            ": tensor data is not device memory allocated in this session"};
    utvm_rpc_reply_exception_parts(s, parts, 3);
    return false;
  }
  return true;
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
    utvm_rpc_reply_exception_parts(s, parts, 6);
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
      utvm_rpc_reply_exception_parts(s, parts2, 7);
      return false;
    }
  }
  return true;
}

/* ---- requests ---- */

static void do_alloc(utvm_rpc_server_t* s, uint64_t nbytes, uint64_t alignment) {
  if (alignment == 0) alignment = 1;
  if ((alignment & (alignment - 1)) != 0 || alignment > 4096) {
    utvm_rpc_reply_exception(s, "ValueError: allocation alignment must be a power of two <= 4096");
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
    utvm_rpc_reply_exception_parts(s, parts, 5);
    return;
  }
  utvm_rpc_reply_one(s, utvm_rpc_any_ptr(p));
}

static void do_get_attr(utvm_rpc_server_t* s, DLDevice dev, int64_t kind) {
  enum { kExist = 0, kDeviceName = 5, kTotalGlobalMemory = 14, kAvailableGlobalMemory = 15 };
  utvm_alloc_stats_t st;
  utvm_alloc_get_stats(utvm_runtime_config()->data, &st);
  bool cpu = dev.device_type == kDLCPU && dev.device_id == 0;
  TVMFFIAny v = utvm_rpc_any_none();
  if (kind == kExist) {
    v = utvm_rpc_any_int(cpu ? 1 : 0);
  } else if (cpu && kind == kDeviceName) {
    v.type_index = kTVMFFIRawStr;
    v.v_c_str = "utvm";
  } else if (cpu && kind == kTotalGlobalMemory) {
    v = utvm_rpc_any_int((int64_t)st.capacity);
  } else if (cpu && kind == kAvailableGlobalMemory) {
    v = utvm_rpc_any_int((int64_t)st.largest_free);
  }
  utvm_rpc_reply_one(s, v);
}

void utvm_rpc_syscall(utvm_rpc_server_t* s, int32_t code, TVMFFIAny* a, int32_t n) {
  switch (code) {
    case kRPCGetGlobalFunc:
      if (check_args(s, "GetGlobalFunc", a, n, "s")) {
        utvm_rpc_reply_one(s, utvm_rpc_any_ptr((void*)(uintptr_t)utvm_rpc_find_function(s, a[0].v_c_str)));
      }
      return;
    case kRPCFreeHandle:
      if (check_args(s, "FreeHandle", a, n, "p")) {
        utvm_rpc_release_handle((uint64_t)(uintptr_t)a[0].v_ptr);
        utvm_rpc_reply_one(s, utvm_rpc_any_none());
      }
      return;
    case kRPCDevSetDevice:
      if (check_args(s, "DevSetDevice", a, n, "d") && check_cpu(s, a[0].v_device)) {
        utvm_rpc_reply_one(s, utvm_rpc_any_none());
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
        utvm_rpc_reply_exception(s, "ValueError: memory scope not supported (only \"global\")");
      } else if (!utvm_tensor_nbytes(t, &nbytes)) {
        utvm_rpc_reply_exception(s, "ValueError: DevAllocDataWithScope: invalid shape or dtype");
      } else if (check_cpu(s, t->device)) {
        do_alloc(s, nbytes, 64);
      }
      return;
    }
    case kRPCDevFreeData:
      if (check_args(s, "DevFreeData", a, n, "dp") && check_cpu(s, a[0].v_device)) {
        if (utvm_free(utvm_runtime_config()->data, a[1].v_ptr) != UTVM_OK) {
          utvm_rpc_reply_exception(s, "ValueError: DevFreeData: pointer was not allocated by this session");
        } else {
          utvm_rpc_reply_one(s, utvm_rpc_any_none());
        }
      }
      return;
    case kRPCDevStreamSync:
      if (check_args(s, "DevStreamSync", a, n, "dp") && check_cpu(s, a[0].v_device)) {
        utvm_rpc_reply_one(s, utvm_rpc_any_none());
      }
      return;
    case kRPCCopyAmongRemote: {
      if (!check_args(s, "CopyAmongRemote", a, n, "TTp")) return;
      const DLTensor* from = (const DLTensor*)a[0].v_ptr;
      const DLTensor* to = (const DLTensor*)a[1].v_ptr;
      uint64_t nb_from, nb_to;
      if (!utvm_rpc_check_tensor_view(s, from, "CopyAmongRemote", &nb_from) ||
          !utvm_rpc_check_tensor_view(s, to, "CopyAmongRemote", &nb_to)) {
        return;
      }
      if (nb_from != nb_to) {
        utvm_rpc_reply_exception(s, "ValueError: CopyAmongRemote: tensors differ in size");
      } else {
        memmove((uint8_t*)to->data + to->byte_offset,
                (const uint8_t*)from->data + from->byte_offset, (size_t)nb_to);
        utvm_rpc_reply_one(s, utvm_rpc_any_none());
      }
      return;
    }
    default: {
      char cb[12];
      const char* parts[3] = {"RuntimeError: RPC syscall ", utvm_fmt_i64(cb, code),
                              " (streams) is not supported by this device"};
      utvm_rpc_reply_exception_parts(s, parts, 3);
      return;
    }
  }
}

