/* Framer: CRC-16/CCITT, escaping, and the receive state machine. */
#include <string.h>

#include "utvm/framing.h"

static const uint16_t kCrcNibble[16] = {0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5,
                                        0x60c6, 0x70e7, 0x8108, 0x9129, 0xa14a, 0xb16b,
                                        0xc18c, 0xd1ad, 0xe1ce, 0xf1ef};

uint16_t utvm_crc16(uint16_t crc, const uint8_t* data, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    uint8_t b = data[i];
    crc = (uint16_t)((crc << 4) ^ kCrcNibble[((crc >> 12) ^ (b >> 4)) & 0xF]);
    crc = (uint16_t)((crc << 4) ^ kCrcNibble[((crc >> 12) ^ b) & 0xF]);
  }
  return crc;
}

/* ---- buffered output ---- */

void utvm_txbuf_init(utvm_txbuf_t* b, utvm_emit_fn emit, void* ctx) {
  b->emit = emit;
  b->ctx = ctx;
  b->fill = 0;
}

utvm_status_t utvm_txbuf_flush(utvm_txbuf_t* b) {
  if (b->fill == 0) return UTVM_OK;
  size_t n = b->fill;
  b->fill = 0;
  return b->emit(b->ctx, b->buf, n);
}

utvm_status_t utvm_txbuf_put(utvm_txbuf_t* b, const uint8_t* data, size_t n) {
  if (n >= sizeof(b->buf)) { /* large writes bypass the staging buffer */
    utvm_status_t st = utvm_txbuf_flush(b);
    return st != UTVM_OK ? st : b->emit(b->ctx, data, n);
  }
  if (b->fill + n > sizeof(b->buf)) {
    utvm_status_t st = utvm_txbuf_flush(b);
    if (st != UTVM_OK) return st;
  }
  memcpy(b->buf + b->fill, data, n);
  b->fill += n;
  return UTVM_OK;
}

/* ---- encoder ---- */

void utvm_framer_tx_init(utvm_framer_tx_t* tx, utvm_emit_fn emit, void* ctx) {
  utvm_txbuf_init(&tx->out, emit, ctx);
  tx->remaining = 0;
  tx->crc = 0xFFFF;
  tx->in_frame = false;
  tx->reset_state = true;
}

static utvm_status_t tx_fail(utvm_framer_tx_t* tx, utvm_status_t st) {
  tx->in_frame = false;
  tx->reset_state = true; /* the peer may have seen half a frame */
  tx->out.fill = 0;
  return st;
}

/* Escape and checksum data (crc=true) or only escape it (the CRC field). */
static utvm_status_t tx_escaped(utvm_framer_tx_t* tx, const uint8_t* data, size_t n, bool crc) {
  static const uint8_t kFF[2] = {UTVM_FRAME_ESCAPE, UTVM_FRAME_ESCAPE};
  while (n > 0) {
    const uint8_t* ff = (const uint8_t*)memchr(data, UTVM_FRAME_ESCAPE, n);
    size_t run = ff ? (size_t)(ff - data) : n;
    if (run > 0) {
      if (crc) tx->crc = utvm_crc16(tx->crc, data, run);
      utvm_status_t st = utvm_txbuf_put(&tx->out, data, run);
      if (st != UTVM_OK) return st;
    }
    if (ff == NULL) break;
    if (crc) tx->crc = utvm_crc16(tx->crc, kFF, 2);
    utvm_status_t st = utvm_txbuf_put(&tx->out, kFF, 2);
    if (st != UTVM_OK) return st;
    data += run + 1;
    n -= run + 1;
  }
  return UTVM_OK;
}

utvm_status_t utvm_framer_tx_begin(utvm_framer_tx_t* tx, uint32_t payload_len) {
  static const uint8_t kNop = UTVM_FRAME_NOP;
  static const uint8_t kStart[2] = {UTVM_FRAME_ESCAPE, UTVM_FRAME_START};
  if (tx->in_frame) return UTVM_ERR_STATE;
  utvm_status_t st = UTVM_OK;
  if (tx->reset_state) st = utvm_txbuf_put(&tx->out, &kNop, 1);
  if (st == UTVM_OK) st = utvm_txbuf_put(&tx->out, kStart, 2);
  if (st != UTVM_OK) return tx_fail(tx, st);
  tx->reset_state = false;
  tx->crc = utvm_crc16(0xFFFF, kStart, 2);
  uint8_t len[4] = {(uint8_t)payload_len, (uint8_t)(payload_len >> 8),
                    (uint8_t)(payload_len >> 16), (uint8_t)(payload_len >> 24)};
  st = tx_escaped(tx, len, 4, true);
  if (st != UTVM_OK) return tx_fail(tx, st);
  tx->remaining = payload_len;
  tx->in_frame = true;
  return UTVM_OK;
}

utvm_status_t utvm_framer_tx_write(utvm_framer_tx_t* tx, const uint8_t* data, size_t n) {
  if (!tx->in_frame || n > tx->remaining) return tx_fail(tx, UTVM_ERR_STATE);
  utvm_status_t st = tx_escaped(tx, data, n, true);
  if (st != UTVM_OK) return tx_fail(tx, st);
  tx->remaining -= (uint32_t)n;
  return UTVM_OK;
}

utvm_status_t utvm_framer_tx_end(utvm_framer_tx_t* tx) {
  if (!tx->in_frame || tx->remaining != 0) return tx_fail(tx, UTVM_ERR_STATE);
  uint8_t crc[2] = {(uint8_t)tx->crc, (uint8_t)(tx->crc >> 8)};
  utvm_status_t st = tx_escaped(tx, crc, 2, false);
  if (st == UTVM_OK) st = utvm_txbuf_flush(&tx->out);
  if (st != UTVM_OK) return tx_fail(tx, st);
  tx->in_frame = false;
  return UTVM_OK;
}

/* ---- decoder ---- */

void utvm_framer_rx_init(utvm_framer_rx_t* rx, uint8_t* buf, size_t cap) {
  memset(rx, 0, sizeof(*rx));
  rx->buf = buf;
  rx->cap = cap;
}

void utvm_framer_rx_set_buffer(utvm_framer_rx_t* rx, uint8_t* buf, size_t cap) {
  rx->buf = buf;
  rx->cap = cap;
}

void utvm_framer_rx_reset(utvm_framer_rx_t* rx) {
  rx->state = UTVM_RX_WAIT_START;
  rx->escape = false;
}

static void rx_start(utvm_framer_rx_t* rx) {
  static const uint8_t kStart[2] = {UTVM_FRAME_ESCAPE, UTVM_FRAME_START};
  if (rx->state != UTVM_RX_WAIT_START) rx->stats.abandoned++;
  rx->state = UTVM_RX_LENGTH;
  rx->crc = utvm_crc16(0xFFFF, kStart, 2);
  rx->field_i = 0;
  rx->len = 0;
}

/* One unescaped byte b that arrived as `wire` (1 or 2 bytes). True when a frame completed. */
static bool rx_byte(utvm_framer_rx_t* rx, uint8_t b, const uint8_t* wire, size_t wire_n) {
  switch ((utvm_rx_state_t)rx->state) {
    case UTVM_RX_WAIT_START:
      return false;
    case UTVM_RX_LENGTH:
      rx->crc = utvm_crc16(rx->crc, wire, wire_n);
      rx->len |= (uint32_t)b << (8 * rx->field_i);
      if (++rx->field_i < 4) return false;
      rx->field_i = 0;
      rx->got = 0;
      rx->rx_crc = 0;
      if (rx->len > rx->cap) {
        rx->stats.oversized++;
        rx->state = UTVM_RX_WAIT_START;
      } else {
        rx->state = rx->len == 0 ? UTVM_RX_CRC : UTVM_RX_PAYLOAD;
      }
      return false;
    case UTVM_RX_PAYLOAD:
      rx->crc = utvm_crc16(rx->crc, wire, wire_n);
      rx->buf[rx->got++] = b;
      if (rx->got == rx->len) rx->state = UTVM_RX_CRC;
      return false;
    case UTVM_RX_CRC:
      rx->rx_crc |= (uint16_t)(b << (8 * rx->field_i));
      if (++rx->field_i < 2) return false;
      rx->state = UTVM_RX_WAIT_START;
      if (rx->rx_crc == rx->crc) {
        rx->stats.frames_ok++;
        return true;
      }
      rx->stats.crc_errors++;
      return false;
  }
  return false;
}

size_t utvm_framer_rx_feed(utvm_framer_rx_t* rx, const uint8_t* data, size_t n,
                           int32_t* frame_len) {
  static const uint8_t kFF2[2] = {UTVM_FRAME_ESCAPE, UTVM_FRAME_ESCAPE};
  *frame_len = -1;
  size_t i = 0;
  while (i < n) {
    /* Fast path: a run of plain payload bytes is copied and checksummed at once. */
    if (rx->state == UTVM_RX_PAYLOAD && !rx->escape) {
      size_t want = rx->len - rx->got;
      if (want > n - i) want = n - i;
      const uint8_t* ff = (const uint8_t*)memchr(data + i, UTVM_FRAME_ESCAPE, want);
      size_t run = ff ? (size_t)(ff - (data + i)) : want;
      if (run > 0) {
        memcpy(rx->buf + rx->got, data + i, run);
        rx->crc = utvm_crc16(rx->crc, data + i, run);
        rx->got += (uint32_t)run;
        i += run;
        if (rx->got == rx->len) rx->state = UTVM_RX_CRC;
        continue;
      }
    }
    uint8_t b = data[i++];
    bool done;
    if (rx->escape) {
      rx->escape = false;
      if (b == UTVM_FRAME_START) {
        rx_start(rx);
        continue;
      }
      if (b == UTVM_FRAME_NOP) continue;
      if (b != UTVM_FRAME_ESCAPE) {
        if (rx->state != UTVM_RX_WAIT_START) {
          rx->stats.escape_errors++;
          rx->state = UTVM_RX_WAIT_START;
        }
        continue;
      }
      done = rx_byte(rx, UTVM_FRAME_ESCAPE, kFF2, 2);
    } else if (b == UTVM_FRAME_ESCAPE) {
      rx->escape = true;
      continue;
    } else {
      done = rx_byte(rx, b, &data[i - 1], 1);
    }
    if (done) {
      *frame_len = (int32_t)rx->len;
      return i;
    }
  }
  return n;
}
