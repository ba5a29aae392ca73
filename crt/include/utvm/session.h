/*
 * Session layer (microTVM session v1) over the framer. Header {u16 session_id;
 * u8 type}; StartInit/StartReply with nonces, Terminate, Log, Normal (RPC bytes).
 * A device announces itself at boot with Terminate(session 0). A StartInit always
 * starts a fresh session and resets the RPC server, whatever state it was in.
 * A frame that fails its check (CRC, escape, length, cut short) during a session
 * ends the session with a Terminate: part of a request may be lost, and a wrong
 * answer is worse than a new handshake.
 */
#ifndef UTVM_SESSION_H_
#define UTVM_SESSION_H_

#include <stdbool.h>
#include <stdint.h>

#include "utvm/framing.h"
#include "utvm/rpc_server.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UTVM_SESSION_HEADER_SIZE 3
#define UTVM_SESSION_VERSION 1

typedef enum {
  UTVM_MSG_START_INIT = 0x00,
  UTVM_MSG_START_REPLY = 0x01,
  UTVM_MSG_TERMINATE = 0x02,
  UTVM_MSG_LOG = 0x03,
  UTVM_MSG_NORMAL = 0x10,
} utvm_message_type_t;

typedef struct {
  uint32_t sessions_started;
  uint32_t dropped_no_session;  /* Normal messages with no or a stale session */
  uint32_t dropped_malformed;   /* frames too short or with an unknown type */
  uint32_t link_faults;         /* sessions ended because a frame failed its check */
} utvm_session_stats_t;

typedef struct utvm_session {
  utvm_framer_rx_t rx;
  utvm_framer_tx_t tx;
  utvm_rpc_server_t* rpc;
  uint16_t session_id; /* 0 when no session is active */
  uint8_t frame_type;  /* type of the frame being sent */
  utvm_session_stats_t stats;
} utvm_session_t;

/* The session sends through emit (the transport) and delivers RPC bytes to rpc. */
void utvm_session_init(utvm_session_t* s, utvm_rpc_server_t* rpc, utvm_emit_fn emit, void* ctx);
/* The output channel the RPC server replies through (Normal messages). */
utvm_rpc_out_t utvm_session_rpc_out(utvm_session_t* s);
/* Boot announcement: Terminate on session 0. */
utvm_status_t utvm_session_announce(utvm_session_t* s);
/* Send a Log message (in the current session, or session 0). */
utvm_status_t utvm_session_log(utvm_session_t* s, const char* message);
/* Feed received transport bytes. Returns an error only when the transport fails. */
utvm_status_t utvm_session_feed(utvm_session_t* s, const uint8_t* data, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* UTVM_SESSION_H_ */
