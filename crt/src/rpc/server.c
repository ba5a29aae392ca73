/* Device main loops over the platform transport, and the stats report. */
#include <string.h>

#include "utvm/platform.h"
#include "utvm/runtime.h"
#include "utvm/server.h"

static utvm_server_t* g_server; /* the server being run, for utvm.Stats */

static utvm_status_t platform_emit(void* ctx, const uint8_t* data, size_t n) {
  (void)ctx;
  while (n > 0) {
    int32_t w = utvm_platform_write(data, n);
    if (w <= 0) return UTVM_ERR_IO;
    data += w;
    n -= (size_t)w;
  }
  return UTVM_OK;
}

utvm_status_t utvm_serve_framed(utvm_server_t* srv) {
  g_server = srv;
  utvm_session_init(&srv->session, &srv->rpc, platform_emit, NULL);
  utvm_rpc_server_init(&srv->rpc, utvm_session_rpc_out(&srv->session));
  utvm_status_t st = utvm_session_announce(&srv->session);
  while (st == UTVM_OK) {
    int32_t got = utvm_platform_read(srv->rx_chunk, sizeof(srv->rx_chunk));
    if (got == 0) return UTVM_ERR_EOF;
    if (got < 0) return UTVM_ERR_IO;
    st = utvm_session_feed(&srv->session, srv->rx_chunk, (size_t)got);
  }
  return st;
}

static utvm_status_t raw_begin(void* ctx, size_t packet_bytes) {
  (void)ctx;
  (void)packet_bytes;
  return UTVM_OK;
}

static utvm_status_t raw_write(void* ctx, const uint8_t* data, size_t n) {
  return utvm_txbuf_put((utvm_txbuf_t*)ctx, data, n);
}

static utvm_status_t raw_end(void* ctx) { return utvm_txbuf_flush((utvm_txbuf_t*)ctx); }

utvm_status_t utvm_serve_raw(utvm_server_t* srv) {
  g_server = srv;
  utvm_txbuf_init(&srv->raw_out, platform_emit, NULL);
  utvm_rpc_out_t out = {raw_begin, raw_write, raw_end, &srv->raw_out};
  utvm_rpc_server_init(&srv->rpc, out);
  memset(&srv->session, 0, sizeof(srv->session));
  while (!srv->rpc.shutdown) {
    size_t cap;
    uint8_t* space = utvm_rpc_server_rx_space(&srv->rpc, &cap);
    int32_t got = utvm_platform_read(space, cap);
    if (got == 0) return UTVM_ERR_EOF;
    if (got < 0) return UTVM_ERR_IO;
    if (utvm_rpc_server_commit(&srv->rpc, (size_t)got) != UTVM_OK) return UTVM_ERR_IO;
  }
  return UTVM_OK;
}

/* ---- stats as JSON, without printf ---- */

typedef struct {
  char* buf;
  size_t cap;
  size_t len;
  bool overflow;
} json_t;

static void put(json_t* j, const char* s) {
  size_t n = strlen(s);
  if (j->len + n + 1 > j->cap) {
    j->overflow = true;
    return;
  }
  memcpy(j->buf + j->len, s, n + 1);
  j->len += n;
}

/* `"key":`, preceded by a comma unless it opens an object. */
static void key(json_t* j, const char* name) {
  put(j, j->len > 0 && j->buf[j->len - 1] != '{' ? ",\"" : "\"");
  put(j, name);
  put(j, "\":");
}

static void field(json_t* j, const char* name, uint64_t value) {
  char num[21];
  key(j, name);
  put(j, utvm_fmt_u64(num, value));
}

static void alloc_fields(json_t* j, const char* name, utvm_allocator_t* a) {
  utvm_alloc_stats_t st;
  utvm_alloc_get_stats(a, &st);
  key(j, name);
  put(j, "{");
  field(j, "capacity", st.capacity);
  field(j, "in_use", st.in_use);
  field(j, "high_water", st.high_water);
  field(j, "largest_free", st.largest_free);
  field(j, "allocs", st.num_allocs);
  field(j, "frees", st.num_frees);
  field(j, "failures", st.num_failures);
  put(j, "}");
}

static void port_fields(json_t* j) {
  size_t n = 0;
  const utvm_counter_t* counters = utvm_platform_counters(&n);
  key(j, "port");
  put(j, "{");
  for (size_t i = 0; i < n; ++i) field(j, counters[i].name, counters[i].value);
  put(j, "}");
}

int32_t utvm_stats_json(char* buf, size_t cap) {
  json_t j = {buf, cap, 0, cap == 0};
  if (cap > 0) buf[0] = '\0';
  put(&j, "{");
  if (g_server != NULL) {
    const utvm_framer_stats_t* f = &g_server->session.rx.stats;
    const utvm_session_stats_t* ss = &g_server->session.stats;
    const utvm_rpc_stats_t* r = &g_server->rpc.stats;
    field(&j, "max_packet_size", UTVM_MAX_PACKET_SIZE);
    field(&j, "frames_ok", f->frames_ok);
    field(&j, "crc_errors", f->crc_errors);
    field(&j, "escape_errors", f->escape_errors);
    field(&j, "oversized_frames", f->oversized);
    field(&j, "abandoned_frames", f->abandoned);
    field(&j, "sessions_started", ss->sessions_started);
    field(&j, "dropped_no_session", ss->dropped_no_session);
    field(&j, "dropped_malformed", ss->dropped_malformed);
    field(&j, "link_faults", ss->link_faults);
    field(&j, "rpc_packets", r->packets);
    field(&j, "rpc_exceptions", r->exceptions);
    field(&j, "rpc_oversized", r->oversized);
  }
  port_fields(&j);
  alloc_fields(&j, "data", utvm_runtime_config()->data);
  alloc_fields(&j, "workspace", utvm_runtime_config()->workspace);
  put(&j, "}");
  return j.overflow ? -1 : (int32_t)j.len;
}
