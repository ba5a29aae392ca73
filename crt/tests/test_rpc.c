/* RPC server: requests built byte by byte, replies decoded. */
#include <string.h>

#include "check.h"
#include "fake_platform.h"
#include "utvm/rpc_server.h"
#include "utvm/runtime.h"
#include "utvm/timer.h"

static uint8_t g_out[1 << 16];
static size_t g_out_len;
static utvm_rpc_server_t g_rpc;

static utvm_status_t o_begin(void* c, size_t n) { (void)c; (void)n; return UTVM_OK; }
static utvm_status_t o_write(void* c, const uint8_t* d, size_t n) {
  (void)c;
  if (g_out_len + n > sizeof(g_out)) return UTVM_ERR_IO;
  memcpy(g_out + g_out_len, d, n);
  g_out_len += n;
  return UTVM_OK;
}
static utvm_status_t o_end(void* c) { (void)c; return UTVM_OK; }

/* Packet builder. */
static uint8_t g_pkt[8192];
static size_t g_len;
static void put(const void* d, size_t n) { memcpy(g_pkt + g_len, d, n); g_len += n; }
static void put_i32(int32_t v) { put(&v, 4); }
static void put_u64(uint64_t v) { put(&v, 8); }
static void start(int32_t code) { g_len = 8; put_i32(code); }
static void put_str_arg(const char* s) { put_i32(kTVMFFIRawStr); put_u64(strlen(s)); put(s, strlen(s)); }

/* Send the packet to rpc; returns the reply code, body after the code in *body. */
static int32_t send_to(utvm_rpc_server_t* rpc, const uint8_t** body, size_t* body_len) {
  uint64_t n = g_len - 8;
  memcpy(g_pkt, &n, 8);
  g_out_len = 0;
  size_t cap;
  uint8_t* space = utvm_rpc_server_rx_space(rpc, &cap);
  memcpy(space, g_pkt, g_len);
  CHECK(utvm_rpc_server_commit(rpc, g_len) == UTVM_OK);
  if (g_out_len < 12) return -1;
  int32_t code;
  memcpy(&code, g_out + 8, 4);
  *body = g_out + 12;
  *body_len = g_out_len - 12;
  return code;
}

static int32_t send_packet(const uint8_t** body, size_t* body_len) { return send_to(&g_rpc, body, body_len); }

static int reply_has(const char* text) {
  return memmem(g_out, g_out_len, text, strlen(text)) != NULL;
}

/* test.timed(): takes 1 ms and times itself, as a graph's run does. */
static double g_timed_inner;
static int32_t timed(void* self, void* args, int32_t n, void* result) {
  (void)self, (void)args, (void)n, (void)result;
  utvm_timer_t t;
  utvm_timer_start(&t);
  utvm_fake_timer_advance(1000);
  return utvm_timer_stop(&t, &g_timed_inner) == UTVM_OK ? 0 : -1;
}
static const utvm_func_t k_test_funcs[] = {{"test.timed", timed, NULL}};
static const utvm_func_registry_t k_test_globals = {k_test_funcs, 1};

static uint8_t g_heap[1 << 16];
static uint8_t g_ws[1 << 12];
static utvm_std_allocator_t g_data_a, g_ws_a;

static void setup(void) {
  utvm_std_allocator_init(&g_data_a, g_heap, sizeof(g_heap));
  utvm_std_allocator_init(&g_ws_a, g_ws, sizeof(g_ws));
  utvm_runtime_config_t cfg = {NULL, &g_data_a.base, &g_ws_a.base, &k_test_globals};
  utvm_runtime_init(&cfg);
  utvm_rpc_out_t out = {o_begin, o_write, o_end, NULL};
  utvm_rpc_server_init(&g_rpc, out);
}

static void test_init_server(void) {
  const uint8_t* b;
  size_t n;
  setup();
  start(2);
  put_u64(5);
  put("0.8.0", 5);
  put_i32(0);
  CHECK(send_packet(&b, &n) == 4); /* Return */
  start(2);
  put_u64(5);
  put("0.7.0", 5);
  put_i32(0);
  CHECK(send_packet(&b, &n) == 5 && reply_has("version mismatch"));
}

static uint64_t get_global(const char* name) {
  const uint8_t* b;
  size_t n;
  start(9);
  put_i32(1);
  put_str_arg(name);
  int32_t code = send_packet(&b, &n);
  CHECK(code == 4);
  int32_t t;
  memcpy(&t, b + 4, 4);
  if (t == kTVMFFINone) return 0;
  uint64_t h;
  memcpy(&h, b + 8, 8);
  return h;
}

static void test_globals_and_calls(void) {
  const uint8_t* b;
  size_t n;
  setup();
  CHECK(get_global("no.such.function") == 0);
  uint64_t echo = get_global("utvm.testing.echo");
  CHECK(echo != 0);
  start(3);
  put_u64(echo);
  put_i32(1);
  put_str_arg("hello");
  CHECK(send_packet(&b, &n) == 4);
  CHECK(reply_has("hello"));
  /* a made-up handle is refused, not called */
  start(3);
  put_u64(echo + 1);
  put_i32(0);
  CHECK(send_packet(&b, &n) == 5 && reply_has("invalid or freed function handle"));
  uint64_t raise = get_global("utvm.testing.raise");
  start(3);
  put_u64(raise);
  put_i32(2);
  put_str_arg("ValueError");
  put_str_arg("kaboom");
  CHECK(send_packet(&b, &n) == 5 && reply_has("ValueError: kaboom"));
}

static void test_malformed_packets(void) {
  const uint8_t* b;
  size_t n;
  setup();
  uint64_t echo = get_global("utvm.testing.echo");
  /* truncated string argument */
  start(3);
  put_u64(echo);
  put_i32(1);
  put_i32(kTVMFFIRawStr);
  put_u64(1000);
  put("abc", 3);
  CHECK(send_packet(&b, &n) == 5 && reply_has("truncated"));
  /* absurd argument count */
  start(3);
  put_u64(echo);
  put_i32(1 << 30);
  CHECK(send_packet(&b, &n) == 5);
  /* unknown type index */
  start(3);
  put_u64(echo);
  put_i32(1);
  put_i32(42);
  CHECK(send_packet(&b, &n) == 5 && reply_has("unknown argument type"));
  /* unknown code, trailing bytes */
  start(77);
  CHECK(send_packet(&b, &n) == 5 && reply_has("unexpected RPC code 77"));
  start(9);
  put_i32(1);
  put_str_arg("utvm.Stats");
  put_i32(0);
  CHECK(send_packet(&b, &n) == 5 && reply_has("trailing"));
  /* the server still works */
  CHECK(get_global("utvm.Stats") != 0);
}

static void test_oversized_packet_is_skipped(void) {
  setup();
  uint8_t header[12];
  uint64_t big = UTVM_MAX_PACKET_SIZE + 100;
  memcpy(header, &big, 8);
  int32_t code = 3;
  memcpy(header + 8, &code, 4);
  size_t cap;
  g_out_len = 0;
  memcpy(utvm_rpc_server_rx_space(&g_rpc, &cap), header, 12);
  CHECK(utvm_rpc_server_commit(&g_rpc, 12) == UTVM_OK);
  CHECK(reply_has("exceeds the device's maximum"));
  /* feed the rest of the oversized packet in chunks, then a valid request */
  size_t left = (size_t)big + 8 - 12;
  while (left > 0) {
    size_t k = left < 100 ? left : 100;
    memset(utvm_rpc_server_rx_space(&g_rpc, &cap), 0xEE, k);
    CHECK(utvm_rpc_server_commit(&g_rpc, k) == UTVM_OK);
    left -= k;
  }
  CHECK(get_global("utvm.Stats") != 0);
}

/* DevAllocData(cpu(0), nbytes, alignment 16, uint8) */
static void put_alloc_request(uint64_t nbytes) {
  static const uint8_t dtype_u8[8] = {1, 8, 1, 0, 0, 0, 0, 0};
  start(13);
  put_i32(4);
  put_i32(kTVMFFIDevice); put_i32(1); put_i32(0);
  put_i32(kTVMFFIInt); put_u64(nbytes);
  put_i32(kTVMFFIInt); put_u64(16);
  put_i32(kTVMFFIDataType); put(dtype_u8, 8);
}

static void test_alloc_copy_free(void) {
  const uint8_t* b;
  size_t n;
  setup();
  static const uint8_t dt[4] = {1, 8, 1, 0};
  put_alloc_request(64);
  CHECK(send_packet(&b, &n) == 4);
  uint64_t ptr;
  memcpy(&ptr, b + 8, 8);
  CHECK(ptr != 0);
  /* CopyToRemote 64 bytes into a [64] uint8 tensor */
  start(7);
  put_u64(ptr); put_i32(1); put_i32(0); put_i32(1); put(dt, 4); put_u64(64); put_u64(0);
  put_u64(64);
  uint8_t data[64];
  for (int i = 0; i < 64; ++i) data[i] = (uint8_t)(i * 3);
  put(data, 64);
  CHECK(send_packet(&b, &n) == 4);
  /* CopyFromRemote bytes 32..64 */
  start(6);
  put_u64(ptr); put_i32(1); put_i32(0); put_i32(1); put(dt, 4); put_u64(64); put_u64(32);
  put_u64(32);
  CHECK(send_packet(&b, &n) == 8 && n == 32 && memcmp(b, data + 32, 32) == 0);
  /* reading past the tensor is refused */
  start(6);
  put_u64(ptr); put_i32(1); put_i32(0); put_i32(1); put(dt, 4); put_u64(64); put_u64(32);
  put_u64(64);
  CHECK(send_packet(&b, &n) == 5 && reply_has("outside"));
  /* a pointer the device never handed out is refused */
  start(6);
  put_u64(ptr + 4096); put_i32(1); put_i32(0); put_i32(1); put(dt, 4); put_u64(16); put_u64(0);
  put_u64(16);
  CHECK(send_packet(&b, &n) == 5 && reply_has("not device memory"));
  /* DevFreeData twice: the second is an error */
  for (int i = 0; i < 2; ++i) {
    start(14);
    put_i32(2);
    put_i32(kTVMFFIDevice); put_i32(1); put_i32(0);
    put_i32(kTVMFFIOpaquePtr); put_u64(ptr);
    CHECK(send_packet(&b, &n) == (i == 0 ? 4 : 5));
  }
}

static void test_out_of_memory_keeps_serving(void) {
  const uint8_t* b;
  size_t n;
  setup();
  put_alloc_request(1 << 20);
  CHECK(send_packet(&b, &n) == 5 && reply_has("MemoryError: device out of memory"));
  CHECK(get_global("utvm.Stats") != 0);
}

/* utvm.Stats reports the server it is called through (its globals are bound to it). */
static void test_stats_are_the_called_servers(void) {
  static utvm_rpc_server_t other;
  const uint8_t* b;
  size_t n;
  uint64_t mine, theirs;
  setup();
  utvm_rpc_out_t out = {o_begin, o_write, o_end, NULL};
  utvm_rpc_server_init(&other, out);
  CHECK(get_global("utvm.Stats") != 0);
  mine = get_global("utvm.Stats");
  start(3);
  put_u64(mine);
  put_i32(0);
  CHECK(send_packet(&b, &n) == 4 && reply_has("\"rpc_packets\":3,") && reply_has("\"frames_ok\":0,"));
  start(9);
  put_i32(1);
  put_str_arg("utvm.Stats");
  CHECK(send_to(&other, &b, &n) == 4);
  memcpy(&theirs, b + 8, 8);
  CHECK(theirs != 0 && theirs != mine);
  start(3);
  put_u64(theirs);
  put_i32(0);
  CHECK(send_to(&other, &b, &n) == 4 && reply_has("\"rpc_packets\":2,"));
  start(3);
  put_u64(mine);
  put_i32(0);
  CHECK(send_to(&other, &b, &n) == 5 && reply_has("invalid or freed function handle"));
}

static void put_int_arg(int64_t v) { put_i32(kTVMFFIInt); put_u64((uint64_t)v); }

/* runtime.RPCTimeEvaluator over a function that runs its own timer: each gets its own time
 * (with one global timer, the inner stop would cut the outer measurement to the last call). */
static void test_time_evaluator_around_a_self_timed_function(void) {
  const uint8_t* b;
  size_t n;
  setup();
  utvm_fake_timer_set_step(0);
  uint64_t te = get_global("runtime.RPCTimeEvaluator");
  start(3);
  put_u64(te);
  put_i32(11);
  put_i32(kTVMFFINone);
  put_str_arg("test.timed");
  put_int_arg(1); /* dev_type, dev_id, number, repeat, min_repeat_ms, limit_zero, cooldown x2 */
  put_int_arg(0);
  put_int_arg(4);
  put_int_arg(2);
  put_int_arg(0);
  put_int_arg(1);
  put_int_arg(0);
  put_int_arg(1);
  put_str_arg("");
  CHECK(send_packet(&b, &n) == 4);
  uint64_t closure;
  memcpy(&closure, b + 4 + 12 + 4, 8); /* [n][int: type index][handle: type, value] */
  start(3);
  put_u64(closure);
  put_i32(0);
  CHECK(send_packet(&b, &n) == 4 && n == 4 + 12 + 12 + 16);
  double per_call[2];
  memcpy(per_call, b + 4 + 12 + 12, sizeof(per_call)); /* [n][int][bytes: type, length, data] */
  CHECK(per_call[0] > 0.999e-3 && per_call[0] < 1.001e-3 && per_call[1] == per_call[0]);
  CHECK(g_timed_inner > 0.999e-3 && g_timed_inner < 1.001e-3);
  utvm_fake_timer_set_step(1000);
}

void test_rpc(void) {
  RUN(test_stats_are_the_called_servers);
  RUN(test_time_evaluator_around_a_self_timed_function);
  RUN(test_init_server);
  RUN(test_globals_and_calls);
  RUN(test_malformed_packets);
  RUN(test_oversized_packet_is_skipped);
  RUN(test_alloc_copy_free);
  RUN(test_out_of_memory_keeps_serving);
}
