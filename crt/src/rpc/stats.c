/* The device's counters as one JSON object (utvm.Stats), without printf. */
#include <string.h>

#include "utvm/platform.h"
#include "utvm/runtime.h"
#include "utvm/server.h"

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

int32_t utvm_stats_json(const utvm_rpc_server_t* rpc, char* buf, size_t cap) {
  static const utvm_framer_stats_t kNoFrames;     /* a server without a session: 0 */
  static const utvm_session_stats_t kNoSessions;
  json_t j = {buf, cap, 0, cap == 0};
  if (cap > 0) buf[0] = '\0';
  put(&j, "{");
  if (rpc != NULL) {
    const utvm_framer_stats_t* f = rpc->session != NULL ? &rpc->session->rx.stats : &kNoFrames;
    const utvm_session_stats_t* ss = rpc->session != NULL ? &rpc->session->stats : &kNoSessions;
    const utvm_rpc_stats_t* r = &rpc->stats;
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
