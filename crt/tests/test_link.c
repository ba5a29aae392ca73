/* Framing and session: golden vectors (microTVM-compatible) and receiver robustness. */
#include <string.h>

#include "check.h"
#include "utvm/session.h"
#include "utvm/runtime.h"

static uint8_t g_cap[1 << 16];
static size_t g_cap_len;

static utvm_status_t capture(void* ctx, const uint8_t* d, size_t n) {
  (void)ctx;
  if (g_cap_len + n > sizeof(g_cap)) return UTVM_ERR_IO;
  memcpy(g_cap + g_cap_len, d, n);
  g_cap_len += n;
  return UTVM_OK;
}

static int same(const uint8_t* a, size_t na, const uint8_t* b, size_t nb) {
  return na == nb && memcmp(a, b, na) == 0;
}

static void send_frame(utvm_framer_tx_t* tx, const uint8_t* p, size_t n) {
  CHECK(utvm_framer_tx_begin(tx, (uint32_t)n) == UTVM_OK);
  CHECK(utvm_framer_tx_write(tx, p, n) == UTVM_OK);
  CHECK(utvm_framer_tx_end(tx) == UTVM_OK);
}

static void test_crc16(void) {
  CHECK(utvm_crc16(0xFFFF, (const uint8_t*)"123456789", 9) == 0x29B1);
}

static void test_golden_frames(void) {
  utvm_framer_tx_t tx;
  static const uint8_t one[] = {0xFF, 0xFD, 3, 0, 0, 0, 'o', 'n', 'e', 0x58, 0xF4};
  static const uint8_t empty[] = {0xFF, 0xFD, 0, 0, 0, 0, 0x83, 0x44};
  utvm_framer_tx_init(&tx, capture, NULL);
  tx.reset_state = false;
  g_cap_len = 0;
  send_frame(&tx, (const uint8_t*)"one", 3);
  CHECK(same(g_cap, g_cap_len, one, sizeof(one)));
  g_cap_len = 0;
  send_frame(&tx, NULL, 0);
  CHECK(same(g_cap, g_cap_len, empty, sizeof(empty)));
}

static void test_golden_session(void) {
  static const uint8_t boot[] = {0xFE, 0xFF, 0xFD, 3, 0, 0, 0, 0, 0, 2, 0x66, 0x77};
  static const uint8_t start_init[] = {0xFF, 0xFD, 4, 0, 0, 0, 0x82, 0, 0, 1, 0x7B, 0xE9};
  static const uint8_t start_reply[] = {0xFF, 0xFD, 4, 0, 0, 0, 0x82, 0x66, 1, 1, 0x81, 0xF3};
  static const uint8_t log1[] = {0xFE, 0xFF, 0xFD, 7, 0, 0, 0, 0, 0, 3, 'l', 'o', 'g', '1', 0xF0, 0xD4};
  static utvm_rpc_server_t rpc;
  static utvm_session_t s;
  utvm_session_init(&s, &rpc, capture, NULL);
  utvm_rpc_server_init(&rpc, utvm_session_rpc_out(&s));
  g_cap_len = 0;
  CHECK(utvm_session_log(&s, "log1") == UTVM_OK);
  CHECK(same(g_cap, g_cap_len, log1, sizeof(log1)));
  utvm_session_init(&s, &rpc, capture, NULL);
  g_cap_len = 0;
  CHECK(utvm_session_announce(&s) == UTVM_OK);
  CHECK(same(g_cap, g_cap_len, boot, sizeof(boot)));
  /* Host StartInit with nonce 0x82; the fake platform's random byte is 0x66. */
  g_cap_len = 0;
  CHECK(utvm_session_feed(&s, start_init, sizeof(start_init)) == UTVM_OK);
  CHECK(same(g_cap, g_cap_len, start_reply, sizeof(start_reply)));
  CHECK(s.session_id == 0x6682);
}

static void test_normal_hello_and_escapes(void) {
  static const uint8_t hello[] = {0xFF, 0xFD, 8, 0, 0, 0, 0x82, 0x66, 0x10,
                                  'h', 'e', 'l', 'l', 'o', 0x90, 0x28};
  utvm_framer_tx_t tx;
  utvm_framer_tx_init(&tx, capture, NULL);
  tx.reset_state = false;
  g_cap_len = 0;
  static const uint8_t msg[] = {0x82, 0x66, 0x10, 'h', 'e', 'l', 'l', 'o'};
  send_frame(&tx, msg, sizeof(msg));
  CHECK(same(g_cap, g_cap_len, hello, sizeof(hello)));
  /* Payload full of FF round-trips through the decoder. */
  uint8_t payload[300], out[400];
  for (size_t i = 0; i < sizeof(payload); ++i) payload[i] = (uint8_t)(i % 3 ? 0xFF : i);
  g_cap_len = 0;
  send_frame(&tx, payload, sizeof(payload));
  utvm_framer_rx_t rx;
  utvm_framer_rx_init(&rx, out, sizeof(out));
  int32_t len;
  size_t used = utvm_framer_rx_feed(&rx, g_cap, g_cap_len, &len);
  CHECK(used == g_cap_len && len == (int32_t)sizeof(payload));
  CHECK(memcmp(out, payload, sizeof(payload)) == 0);
}

/* Feed a wire buffer byte by byte; count frames. */
static int count_frames(utvm_framer_rx_t* rx, const uint8_t* wire, size_t n) {
  int frames = 0;
  for (size_t i = 0; i < n; ++i) {
    int32_t len;
    utvm_framer_rx_feed(rx, wire + i, 1, &len);
    if (len >= 0) frames++;
  }
  return frames;
}

static void test_receiver_robustness(void) {
  static const uint8_t one[] = {0xFF, 0xFD, 3, 0, 0, 0, 'o', 'n', 'e', 0x58, 0xF4};
  uint8_t wire[128], out[16];
  utvm_framer_rx_t rx;
  /* garbage (including FF FF and invalid escapes) before a frame */
  static const uint8_t garbage[] = {0x00, 0x41, 0xFF, 0xFF, 0xFF, 0x12, 0xFE, 0xFD, 0xFF, 0xFE};
  memcpy(wire, garbage, sizeof(garbage));
  memcpy(wire + sizeof(garbage), one, sizeof(one));
  utvm_framer_rx_init(&rx, out, sizeof(out));
  CHECK(count_frames(&rx, wire, sizeof(garbage) + sizeof(one)) == 1);
  CHECK(memcmp(out, "one", 3) == 0);
  /* bad CRC is dropped, the next frame still decodes */
  memcpy(wire, one, sizeof(one));
  wire[sizeof(one) - 1] ^= 1;
  memcpy(wire + sizeof(one), one, sizeof(one));
  utvm_framer_rx_init(&rx, out, sizeof(out));
  CHECK(count_frames(&rx, wire, 2 * sizeof(one)) == 1);
  CHECK(rx.stats.crc_errors == 1);
  /* FF FD inside a frame abandons it and starts over */
  memcpy(wire, one, 7);
  memcpy(wire + 7, one, sizeof(one));
  utvm_framer_rx_init(&rx, out, sizeof(out));
  CHECK(count_frames(&rx, wire, 7 + sizeof(one)) == 1);
  CHECK(rx.stats.abandoned == 1);
  /* an oversized length is refused without writing past the buffer */
  static const uint8_t big[] = {0xFF, 0xFD, 0x00, 0x10, 0, 0, 1, 2, 3};
  utvm_framer_rx_init(&rx, out, sizeof(out));
  CHECK(count_frames(&rx, big, sizeof(big)) == 0);
  CHECK(rx.stats.oversized == 1);
  /* invalid escape inside a frame */
  static const uint8_t bad_escape[] = {0xFF, 0xFD, 3, 0, 0, 0, 'o', 0xFF, 0x01, 'e', 0, 0};
  utvm_framer_rx_init(&rx, out, sizeof(out));
  CHECK(count_frames(&rx, bad_escape, sizeof(bad_escape)) == 0);
  CHECK(rx.stats.escape_errors == 1);
}

/* A device-side session and a host framer, both writing into the capture buffer. */
static void setup_session(utvm_session_t* s, utvm_rpc_server_t* rpc, utvm_framer_tx_t* host) {
  utvm_session_init(s, rpc, capture, NULL);
  utvm_rpc_server_init(rpc, utvm_session_rpc_out(s));
  utvm_framer_tx_init(host, capture, NULL);
  host->reset_state = false;
}

/* The wire bytes of one host frame, in wire[]; the capture buffer is left empty. */
static size_t host_frame(utvm_framer_tx_t* host, const uint8_t* payload, size_t n, uint8_t* wire) {
  g_cap_len = 0;
  send_frame(host, payload, n);
  size_t len = g_cap_len;
  memcpy(wire, g_cap, len);
  g_cap_len = 0;
  return len;
}

static void test_normal_without_session_gets_terminate(void) {
  static utvm_rpc_server_t rpc;
  static utvm_session_t s;
  utvm_framer_tx_t host;
  uint8_t wire[64];
  setup_session(&s, &rpc, &host);
  static const uint8_t msg[] = {0x11, 0x22, 0x10, 1, 2, 3};
  size_t n = host_frame(&host, msg, sizeof(msg), wire);
  CHECK(utvm_session_feed(&s, wire, n) == UTVM_OK);
  CHECK(s.stats.dropped_no_session == 1);
  /* reply is Terminate for session 0x2211 */
  CHECK(g_cap_len >= 12 && g_cap[7] == 0x11 && g_cap[8] == 0x22 && g_cap[9] == 0x02);
}

/* A frame that fails its CRC in a session ends the session (Terminate), and a new
 * StartInit recovers; outside a session the same frame is only counted. */
static void test_bad_frame_in_session_ends_it(void) {
  static utvm_rpc_server_t rpc;
  static utvm_session_t s;
  utvm_framer_tx_t host;
  uint8_t wire[64];
  setup_session(&s, &rpc, &host);
  static const uint8_t start_init[] = {0x82, 0x00, 0x00, 0x01};
  size_t n = host_frame(&host, start_init, sizeof(start_init), wire);
  CHECK(utvm_session_feed(&s, wire, n) == UTVM_OK);
  CHECK(s.session_id != 0);
  uint16_t id = s.session_id;
  const uint8_t normal[] = {(uint8_t)id, (uint8_t)(id >> 8), 0x10, 1, 2, 3};
  n = host_frame(&host, normal, sizeof(normal), wire);
  wire[n - 1] ^= 0x5A; /* break the CRC */
  CHECK(utvm_session_feed(&s, wire, n) == UTVM_OK);
  CHECK(s.session_id == 0 && s.stats.link_faults == 1 && s.rx.stats.crc_errors == 1);
  uint8_t reply[8];
  utvm_framer_rx_t rx;
  utvm_framer_rx_init(&rx, reply, sizeof(reply));
  CHECK(count_frames(&rx, g_cap, g_cap_len) == 1); /* one Terminate for the session that ended */
  CHECK(reply[0] == (uint8_t)id && reply[1] == (uint8_t)(id >> 8) && reply[2] == UTVM_MSG_TERMINATE);
  g_cap_len = 0;
  CHECK(utvm_session_feed(&s, wire, n) == UTVM_OK); /* no session: counted, nothing sent */
  CHECK(s.stats.link_faults == 1 && s.rx.stats.crc_errors == 2 && g_cap_len == 0);
  n = host_frame(&host, start_init, sizeof(start_init), wire);
  CHECK(utvm_session_feed(&s, wire, n) == UTVM_OK);
  CHECK(s.session_id != 0 && s.stats.sessions_started == 2);
}

void test_link(void) {
  RUN(test_crc16);
  RUN(test_golden_frames);
  RUN(test_golden_session);
  RUN(test_normal_hello_and_escapes);
  RUN(test_receiver_robustness);
  RUN(test_normal_without_session_gets_terminate);
  RUN(test_bad_frame_in_session_ends_it);
}
