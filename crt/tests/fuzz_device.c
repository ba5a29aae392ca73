/*
 * Fuzz target for every decoder of untrusted bytes: framer, session, RPC.
 * Input: [mode][data...]
 *   mode 0: data is raw wire bytes into the framed session
 *   mode 1: data is a raw RPC byte stream (PopenSession mode)
 *   mode 2: a session is opened, then data is cut into Normal messages that
 *           are framed correctly (so the RPC decoder sees them past the CRC)
 * After every input the device must still answer: a new StartInit yields a
 * StartReply and a GetGlobalFunc gets a Return. Otherwise: abort.
 * Built with libFuzzer (clang -fsanitize=fuzzer) or fuzz_driver.c (gcc).
 */
#include <stdlib.h>
#include <string.h>

#include "utvm/runtime.h"
#include "utvm/session.h"

const utvm_func_registry_t utvm_system_lib_registry = {NULL, 0};

static utvm_rpc_server_t g_rpc;
static utvm_session_t g_sess;
static uint8_t g_heap[1 << 16], g_ws[1 << 12];
static utvm_std_allocator_t g_data_a, g_ws_a;
static uint8_t g_last[4096]; /* the device's most recent output bytes */
static size_t g_last_len;

static utvm_status_t dev_emit(void* c, const uint8_t* d, size_t n) {
  (void)c;
  for (size_t i = 0; i < n; ++i) {
    if (g_last_len == sizeof(g_last)) {
      memmove(g_last, g_last + 1024, sizeof(g_last) - 1024);
      g_last_len -= 1024;
    }
    g_last[g_last_len++] = d[i];
  }
  return UTVM_OK;
}

/* Host-side framing into a scratch buffer. */
static uint8_t g_wire[1 << 17];
static size_t g_wire_len;
static utvm_status_t host_emit(void* c, const uint8_t* d, size_t n) {
  (void)c;
  if (g_wire_len + n > sizeof(g_wire)) return UTVM_ERR_IO;
  memcpy(g_wire + g_wire_len, d, n);
  g_wire_len += n;
  return UTVM_OK;
}

static void host_send(uint16_t sid, uint8_t type, const uint8_t* p, size_t n) {
  utvm_framer_tx_t tx;
  uint8_t hdr[3] = {(uint8_t)sid, (uint8_t)(sid >> 8), type};
  utvm_framer_tx_init(&tx, host_emit, NULL);
  g_wire_len = 0;
  if (utvm_framer_tx_begin(&tx, (uint32_t)(n + 3)) != UTVM_OK ||
      utvm_framer_tx_write(&tx, hdr, 3) != UTVM_OK ||
      (n && utvm_framer_tx_write(&tx, p, n) != UTVM_OK) || utvm_framer_tx_end(&tx) != UTVM_OK) {
    abort();
  }
  (void)utvm_session_feed(&g_sess, g_wire, g_wire_len);
}

static uint16_t open_session(void) {
  uint8_t version = 1;
  g_last_len = 0;
  host_send(0x37, 0x00, &version, 1);
  /* StartReply: ... 37 XX 01 01 crc */
  for (size_t i = 0; i + 4 <= g_last_len; ++i) {
    if (g_last[i] == 0x37 && g_last[i + 1] != 0 && g_last[i + 2] == 0x01 && g_last[i + 3] == 1) {
      return (uint16_t)(0x37 | (g_last[i + 1] << 8));
    }
  }
  abort(); /* the device did not recover */
}

static void check_serving(uint16_t sid) {
  static const char name[] = "utvm.Stats";
  uint8_t pkt[64];
  uint64_t body = 4 + 4 + 4 + 8 + (sizeof(name) - 1);
  int32_t code = 9, one = 1, t = kTVMFFIRawStr;
  uint64_t len = sizeof(name) - 1;
  size_t k = 0;
  memcpy(pkt + k, &body, 8); k += 8;
  memcpy(pkt + k, &code, 4); k += 4;
  memcpy(pkt + k, &one, 4); k += 4;
  memcpy(pkt + k, &t, 4); k += 4;
  memcpy(pkt + k, &len, 8); k += 8;
  memcpy(pkt + k, name, sizeof(name) - 1); k += sizeof(name) - 1;
  g_last_len = 0;
  host_send(sid, 0x10, pkt, k);
  /* reply: header (3) then u64 length then code 4 (Return) */
  for (size_t i = 0; i + 15 <= g_last_len; ++i) {
    if (g_last[i] == (uint8_t)sid && g_last[i + 2] == 0x10 && g_last[i + 11] == 4) return;
  }
  abort();
}

static void reset_device(void) {
  utvm_std_allocator_init(&g_data_a, g_heap, sizeof(g_heap));
  utvm_std_allocator_init(&g_ws_a, g_ws, sizeof(g_ws));
  utvm_runtime_config_t cfg = {&utvm_system_lib_registry, &g_data_a.base, &g_ws_a.base, NULL};
  utvm_runtime_init(&cfg);
  utvm_session_init(&g_sess, &g_rpc, dev_emit, NULL);
  utvm_rpc_server_init(&g_rpc, utvm_session_rpc_out(&g_sess));
}

static utvm_status_t raw_begin(void* c, size_t n) { (void)c; (void)n; return UTVM_OK; }
static utvm_status_t raw_write(void* c, const uint8_t* d, size_t n) { return dev_emit(c, d, n); }
static utvm_status_t raw_end(void* c) { (void)c; return UTVM_OK; }

static void run_raw(const uint8_t* data, size_t n) {
  utvm_rpc_out_t out = {raw_begin, raw_write, raw_end, NULL};
  utvm_rpc_server_init(&g_rpc, out);
  while (n > 0 && !g_rpc.shutdown) {
    size_t cap;
    uint8_t* space = utvm_rpc_server_rx_space(&g_rpc, &cap);
    size_t k = n < cap ? n : cap;
    memcpy(space, data, k);
    (void)utvm_rpc_server_commit(&g_rpc, k);
    data += k;
    n -= k;
  }
  utvm_rpc_server_init(&g_rpc, utvm_session_rpc_out(&g_sess));
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  reset_device();
  uint8_t mode = data[0] % 3;
  data++;
  size--;
  if (mode == 0) {
    (void)utvm_session_feed(&g_sess, data, size);
  } else if (mode == 1) {
    run_raw(data, size);
  } else {
    uint16_t sid = open_session();
    while (size > 0) { /* [chunk length][chunk] ... */
      size_t k = 1 + data[0] * 8u;
      data++;
      size--;
      if (k > size) k = size;
      host_send(sid, 0x10, data, k);
      data += k;
      size -= k;
    }
  }
  check_serving(open_session());
  return 0;
}
