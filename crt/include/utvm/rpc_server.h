/*
 * The RPC server: TVM RPC protocol "0.8.0" as spoken by apache-tvm 0.27's client.
 * It consumes the RPC byte stream from a receive buffer (filled by the session
 * layer or straight from a raw pipe) and writes replies through an output channel.
 * Any malformed or failing request is answered with an Exception packet carrying
 * a message; the server never stops serving because of host input.
 */
#ifndef UTVM_RPC_SERVER_H_
#define UTVM_RPC_SERVER_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "utvm/config.h"
#include "utvm/runtime.h"
#include "utvm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where replies go. begin() gets the whole packet size (with its u64 length). */
typedef struct {
  utvm_status_t (*begin)(void* ctx, size_t packet_bytes);
  utvm_status_t (*write)(void* ctx, const uint8_t* data, size_t n);
  utvm_status_t (*end)(void* ctx);
  void* ctx;
} utvm_rpc_out_t;

typedef struct {
  uint32_t packets;
  uint32_t exceptions;  /* requests answered with an Exception */
  uint32_t oversized;   /* packets larger than UTVM_MAX_PACKET_SIZE, dropped */
} utvm_rpc_stats_t;

/* Receive buffer: one packet with its u64 length, plus 3 bytes of session-header slack. */
#define UTVM_RPC_RX_CAPACITY (UTVM_MAX_PACKET_SIZE + 8)

/* The server's own global functions (ffi.SystemLib, runtime.RPCTimeEvaluator, utvm.Stats, ...;
 * utvm.testing.* with UTVM_ENABLE_TESTING_GLOBALS). */
#define UTVM_RPC_NUM_GLOBALS (5 + 3 * UTVM_ENABLE_TESTING_GLOBALS)

struct utvm_session;

typedef struct {
  utvm_rpc_out_t out;
  size_t rx_fill;
  uint64_t discard; /* bytes of an oversized packet still to drop */
  size_t arena_used;
  bool shutdown;   /* the host sent Shutdown */
  bool out_error;  /* a reply could not be written */
  utvm_rpc_stats_t stats;
  /* The session carrying this server, whose counters utvm.Stats reports; NULL: none. */
  const struct utvm_session* session;
  /* The server's globals, bound to it: each is called with this server as its self. */
  utvm_func_t globals[UTVM_RPC_NUM_GLOBALS];
  _Alignas(8) uint8_t arena[UTVM_ARG_ARENA_SIZE];
  _Alignas(8) uint8_t rx[UTVM_RPC_RX_CAPACITY + 3];
} utvm_rpc_server_t;

void utvm_rpc_server_init(utvm_rpc_server_t* s, utvm_rpc_out_t out);
/* Forget any partial packet and all per-session device state (handles, tensors). */
void utvm_rpc_server_reset(utvm_rpc_server_t* s);
/* Free space at the end of the receive buffer; the caller fills it and commits. */
uint8_t* utvm_rpc_server_rx_space(utvm_rpc_server_t* s, size_t* cap);
/* Account for n bytes written into rx space, then serve every complete packet. */
utvm_status_t utvm_rpc_server_commit(utvm_rpc_server_t* s, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* UTVM_RPC_SERVER_H_ */
