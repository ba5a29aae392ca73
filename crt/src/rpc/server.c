/* Device main loops over the platform transport. */
#include <string.h>

#include "utvm/platform.h"
#include "utvm/server.h"

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
  utvm_session_init(&srv->session, &srv->rpc, platform_emit, NULL);
  utvm_rpc_server_init(&srv->rpc, utvm_session_rpc_out(&srv->session));
  srv->rpc.session = &srv->session;
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
  utvm_txbuf_init(&srv->raw_out, platform_emit, NULL);
  utvm_rpc_out_t out = {raw_begin, raw_write, raw_end, &srv->raw_out};
  utvm_rpc_server_init(&srv->rpc, out);
  memset(&srv->session, 0, sizeof(srv->session));
  srv->rpc.session = &srv->session; /* no session: its counters stay 0 */
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
