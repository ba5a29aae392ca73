/* Session layer: handshake, reset detection and Normal-message delivery. */
#include <string.h>

#include "utvm/platform.h"
#include "utvm/session.h"

static void point_rx_at_rpc(utvm_session_t* s) {
  size_t cap = 0;
  uint8_t* space = utvm_rpc_server_rx_space(s->rpc, &cap);
  /* rx space has UTVM_SESSION_HEADER_SIZE bytes of slack for the header. */
  utvm_framer_rx_set_buffer(&s->rx, space, cap + UTVM_SESSION_HEADER_SIZE);
}

void utvm_session_init(utvm_session_t* s, utvm_rpc_server_t* rpc, utvm_emit_fn emit, void* ctx) {
  memset(s, 0, sizeof(*s));
  s->rpc = rpc;
  utvm_framer_rx_init(&s->rx, NULL, 0);
  utvm_framer_tx_init(&s->tx, emit, ctx);
  point_rx_at_rpc(s);
}

static utvm_status_t send_message(utvm_session_t* s, uint16_t session_id, uint8_t type,
                                  const uint8_t* payload, size_t n) {
  uint8_t hdr[3] = {(uint8_t)session_id, (uint8_t)(session_id >> 8), type};
  utvm_status_t st = utvm_framer_tx_begin(&s->tx, (uint32_t)(3 + n));
  if (st == UTVM_OK) st = utvm_framer_tx_write(&s->tx, hdr, 3);
  if (st == UTVM_OK && n > 0) st = utvm_framer_tx_write(&s->tx, payload, n);
  if (st == UTVM_OK) st = utvm_framer_tx_end(&s->tx);
  return st;
}

utvm_status_t utvm_session_announce(utvm_session_t* s) {
  return send_message(s, 0, UTVM_MSG_TERMINATE, NULL, 0);
}

utvm_status_t utvm_session_log(utvm_session_t* s, const char* message) {
  return send_message(s, s->session_id, UTVM_MSG_LOG, (const uint8_t*)message, strlen(message));
}

/* ---- the RPC server's output: one Normal message per RPC packet ---- */

static utvm_status_t out_begin(void* ctx, size_t packet_bytes) {
  utvm_session_t* s = (utvm_session_t*)ctx;
  if (packet_bytes > UINT32_MAX - 3) return UTVM_ERR_TOO_LARGE;
  uint8_t hdr[3] = {(uint8_t)s->session_id, (uint8_t)(s->session_id >> 8), UTVM_MSG_NORMAL};
  utvm_status_t st = utvm_framer_tx_begin(&s->tx, (uint32_t)(packet_bytes + 3));
  return st == UTVM_OK ? utvm_framer_tx_write(&s->tx, hdr, 3) : st;
}

static utvm_status_t out_write(void* ctx, const uint8_t* data, size_t n) {
  return utvm_framer_tx_write(&((utvm_session_t*)ctx)->tx, data, n);
}

static utvm_status_t out_end(void* ctx) { return utvm_framer_tx_end(&((utvm_session_t*)ctx)->tx); }

utvm_rpc_out_t utvm_session_rpc_out(utvm_session_t* s) {
  utvm_rpc_out_t out = {out_begin, out_write, out_end, s};
  return out;
}

/* ---- receive ---- */

static utvm_status_t on_start_init(utvm_session_t* s, uint16_t id, const uint8_t* p, size_t n) {
  uint8_t initiator = (uint8_t)(id & 0xFF);
  if (n != 1 || p[0] != UTVM_SESSION_VERSION || initiator == 0) {
    s->stats.dropped_malformed++;
    return UTVM_OK;
  }
  uint8_t responder = 0;
  while (responder == 0) {
    if (utvm_platform_random(&responder, 1) != UTVM_OK) responder = 0x5A;
  }
  utvm_rpc_server_reset(s->rpc); /* a new session always starts from a clean device */
  s->session_id = (uint16_t)(initiator | (responder << 8));
  s->stats.sessions_started++;
  uint8_t version = UTVM_SESSION_VERSION;
  return send_message(s, s->session_id, UTVM_MSG_START_REPLY, &version, 1);
}

static utvm_status_t on_frame(utvm_session_t* s, uint8_t* frame, size_t n) {
  if (n < UTVM_SESSION_HEADER_SIZE) {
    s->stats.dropped_malformed++;
    return UTVM_OK;
  }
  uint16_t id = (uint16_t)(frame[0] | (frame[1] << 8));
  uint8_t type = frame[2];
  uint8_t* payload = frame + UTVM_SESSION_HEADER_SIZE;
  size_t len = n - UTVM_SESSION_HEADER_SIZE;
  switch (type) {
    case UTVM_MSG_START_INIT:
      return on_start_init(s, id, payload, len);
    case UTVM_MSG_TERMINATE:
      if (s->session_id != 0 && id == s->session_id) {
        s->session_id = 0;
        utvm_rpc_server_reset(s->rpc);
      }
      return UTVM_OK;
    case UTVM_MSG_LOG:
      return UTVM_OK;
    case UTVM_MSG_NORMAL:
      if (s->session_id == 0 || id != s->session_id) {
        /* Tell the host its session is gone so it re-handshakes instead of waiting. */
        s->stats.dropped_no_session++;
        return send_message(s, id, UTVM_MSG_TERMINATE, NULL, 0);
      }
      memmove(frame, payload, len);
      return utvm_rpc_server_commit(s->rpc, len);
    default:
      s->stats.dropped_malformed++;
      return UTVM_OK;
  }
}

static uint32_t link_errors(const utvm_framer_stats_t* f) {
  return f->crc_errors + f->escape_errors + f->oversized + f->abandoned;
}

/* A frame that failed its check during a session may have been (part of) a request:
 * the RPC stream can no longer be trusted. End the session and say so, so the host
 * re-handshakes at once instead of getting an answer to a request it did not make. */
static utvm_status_t end_session_on_link_fault(utvm_session_t* s) {
  uint16_t id = s->session_id;
  s->session_id = 0;
  s->stats.link_faults++;
  utvm_rpc_server_reset(s->rpc);
  return send_message(s, id, UTVM_MSG_TERMINATE, NULL, 0);
}

utvm_status_t utvm_session_feed(utvm_session_t* s, const uint8_t* data, size_t n) {
  while (n > 0) {
    int32_t frame_len;
    uint32_t errors = link_errors(&s->rx.stats);
    size_t used = utvm_framer_rx_feed(&s->rx, data, n, &frame_len);
    data += used;
    n -= used;
    if (s->session_id != 0 && link_errors(&s->rx.stats) != errors) {
      utvm_status_t st = end_session_on_link_fault(s);
      if (st != UTVM_OK) return st;
    }
    if (frame_len >= 0) {
      utvm_status_t st = on_frame(s, s->rx.buf, (size_t)frame_len);
      point_rx_at_rpc(s);
      if (st != UTVM_OK) return st;
    }
  }
  return UTVM_OK;
}
