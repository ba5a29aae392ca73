/* RPC server: packet assembly and dispatch of protocol 0.8.0 requests. */
#include <string.h>

#include "rpc_internal.h"

void utvm_rpc_server_init(utvm_rpc_server_t* s, utvm_rpc_out_t out) {
  memset(s, 0, sizeof(*s));
  s->out = out;
  utvm_rpc_bind_globals(s);
}

void utvm_rpc_server_reset(utvm_rpc_server_t* s) {
  s->rx_fill = 0;
  s->discard = 0;
  s->shutdown = false;
  s->out_error = false;
  utvm_rpc_handles_reset();
  utvm_alloc_reset(utvm_runtime_config()->data);
  utvm_alloc_reset(utvm_runtime_config()->workspace);
}

uint8_t* utvm_rpc_server_rx_space(utvm_rpc_server_t* s, size_t* cap) {
  *cap = UTVM_RPC_RX_CAPACITY - s->rx_fill;
  return s->rx + s->rx_fill;
}

/* Return convention of CallFunc: [int type_index, value]. */
static void reply_call_result(utvm_rpc_server_t* s, const TVMFFIAny* rv) {
  TVMFFIAny out[2];
  out[0] = utvm_rpc_any_int(rv->type_index);
  out[1] = *rv;
  switch (rv->type_index) {
    case kTVMFFIRawStr:
      out[0] = utvm_rpc_any_int(kTVMFFIStr);
      break;
    case kTVMFFIByteArrayPtr:
      out[0] = utvm_rpc_any_int(kTVMFFIBytes);
      break;
    case kTVMFFIFunction:
    case kTVMFFIModule:
      out[1] = utvm_rpc_any_ptr(rv->v_ptr);
      break;
    default:
      break;
  }
  utvm_rpc_reply_values(s, out, 2);
}

static void do_call(utvm_rpc_server_t* s, uint64_t handle, TVMFFIAny* a, int32_t n) {
  const utvm_func_t* f = utvm_rpc_func_from_handle(s, handle);
  if (f == NULL) {
    utvm_rpc_reply_exception(s, "ValueError: CallFunc: invalid or freed function handle");
    return;
  }
  for (int32_t i = 0; i < n; ++i) {
    uint64_t nbytes;
    if (a[i].type_index == kTVMFFIDLTensorPtr &&
        !utvm_rpc_check_tensor_view(s, (const DLTensor*)a[i].v_ptr, f->name, &nbytes)) {
      return;
    }
  }
  TVMFFIAny rv;
  if (utvm_func_call(f, a, n, &rv) != 0) {
    utvm_rpc_reply_exception(s, utvm_error_get());
    return;
  }
  reply_call_result(s, &rv);
}

static void do_copy(utvm_rpc_server_t* s, int32_t code, utvm_reader_t* r) {
  uint64_t nbytes;
  DLTensor* t = utvm_rpc_decode_tensor(s, r);
  if (t == NULL || !utvm_reader_u64(r, &nbytes)) return;
  const char* what = code == kRPCCopyToRemote ? "CopyToRemote" : "CopyFromRemote";
  if (code == kRPCCopyToRemote) {
    uint8_t* src = utvm_reader_span(r, nbytes);
    if (src == NULL || r->pos != r->n) return; /* reported by the caller */
    if (utvm_rpc_check_tensor_range(s, t, nbytes, what)) {
      memcpy((uint8_t*)t->data + t->byte_offset, src, (size_t)nbytes);
      utvm_rpc_reply_one(s, utvm_rpc_any_none());
    }
    return;
  }
  if (r->pos != r->n || !utvm_rpc_check_tensor_range(s, t, nbytes, what)) return;
  utvm_rpc_reply_begin(s, kRPCCopyAck, (size_t)nbytes);
  utvm_rpc_reply_write(s, (const uint8_t*)t->data + t->byte_offset, (size_t)nbytes);
  utvm_rpc_reply_end(s);
}

static void do_init_server(utvm_rpc_server_t* s, utvm_reader_t* r) {
  uint64_t len;
  TVMFFIAny* a;
  int32_t n;
  if (!utvm_reader_u64(r, &len)) return;
  const uint8_t* ver = utvm_reader_span(r, len);
  if (ver == NULL || !utvm_rpc_decode_args(s, r, &a, &n) || r->pos != r->n) return;
  const size_t want = sizeof(UTVM_RPC_PROTOCOL_VERSION) - 1;
  if (len != want || memcmp(ver, UTVM_RPC_PROTOCOL_VERSION, want) != 0) {
    utvm_rpc_reply_exception(s, "RuntimeError: RPC protocol version mismatch: device speaks "
                       UTVM_RPC_PROTOCOL_VERSION);
  } else if (n != 0) {
    utvm_rpc_reply_exception(s, "RuntimeError: session constructors are not supported on a device");
  } else {
    utvm_rpc_reply_one(s, utvm_rpc_any_none());
  }
}

static void handle_packet(utvm_rpc_server_t* s, uint8_t* body, size_t n) {
  utvm_reader_t r = {body, n, 0, NULL};
  int32_t code;
  s->arena_used = 0;
  s->stats.packets++;
  uint32_t exceptions_before = s->stats.exceptions;
  if (!utvm_reader_i32(&r, &code)) {
    utvm_rpc_reply_exception(s, "ValueError: malformed RPC packet: no code");
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
    if ((code != kRPCCallFunc || utvm_reader_u64(&r, &handle)) && utvm_rpc_decode_args(s, &r, &a, &na)) {
      if (r.pos != r.n) {
        r.err = "malformed RPC packet: trailing bytes";
      } else if (code == kRPCCallFunc) {
        do_call(s, handle, a, na);
      } else {
        utvm_rpc_syscall(s, code, a, na);
      }
    }
  } else {
    char cb[12];
    const char* parts[2] = {"ValueError: unexpected RPC code ", utvm_fmt_i64(cb, code)};
    utvm_rpc_reply_exception_parts(s, parts, 2);
    return;
  }
  /* A decoding failure that no handler answered yet. */
  if (s->stats.exceptions == exceptions_before && (r.err != NULL || r.pos != r.n)) {
    const char* parts[2] = {"ValueError: ", r.err ? r.err : "malformed RPC packet: trailing bytes"};
    utvm_rpc_reply_exception_parts(s, parts, 2);
  }
}

static void drop_front(utvm_rpc_server_t* s, size_t k) {
  memmove(s->rx, s->rx + k, s->rx_fill - k);
  s->rx_fill -= k;
}

utvm_status_t utvm_rpc_server_commit(utvm_rpc_server_t* s, size_t n) {
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
      utvm_rpc_reply_exception_parts(s, parts, 5);
      continue;
    }
    if (s->rx_fill < 8 + nbytes) break;
    handle_packet(s, s->rx + 8, (size_t)nbytes);
    drop_front(s, 8 + (size_t)nbytes);
  }
  return s->out_error ? UTVM_ERR_IO : UTVM_OK;
}
