/*
 * The device main loop: a session (framed) or raw RPC server on the platform
 * transport. A firmware's main() calls utvm_runtime_init() then one of these.
 */
#ifndef UTVM_SERVER_H_
#define UTVM_SERVER_H_

#include "utvm/rpc_server.h"
#include "utvm/session.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  utvm_rpc_server_t rpc;
  utvm_session_t session;
  utvm_txbuf_t raw_out;
  uint8_t rx_chunk[UTVM_RX_CHUNK];
} utvm_server_t;

/* Framed session on the platform transport: announce, then serve until the
 * transport ends (returns UTVM_ERR_EOF) or fails. */
utvm_status_t utvm_serve_framed(utvm_server_t* srv);

/* Raw RPC (no framing) on the platform transport, as tvm.rpc.PopenSession
 * expects; returns UTVM_OK after Shutdown, UTVM_ERR_EOF at end of stream. */
utvm_status_t utvm_serve_raw(utvm_server_t* srv);

/* One JSON object with the device's counters into buf (NUL-terminated; returns its length,
 * or -1 if it does not fit cap): rpc's and its session's (none when rpc is NULL), the port's
 * and the allocators'. */
int32_t utvm_stats_json(const utvm_rpc_server_t* rpc, char* buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* UTVM_SERVER_H_ */
