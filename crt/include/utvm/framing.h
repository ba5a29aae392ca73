/*
 * Link-layer framing, byte-compatible with microTVM's framer:
 *   [FE if the sender is in reset state] FF FD | len u32 LE | payload | crc u16 LE
 * with FF escaped as FF FF in length, payload and CRC. CRC-16/CCITT (init 0xFFFF)
 * over the escaped wire bytes from FF FD through the payload. FF FE is a no-op.
 */
#ifndef UTVM_FRAMING_H_
#define UTVM_FRAMING_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "utvm/config.h"
#include "utvm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UTVM_FRAME_ESCAPE 0xFF
#define UTVM_FRAME_NOP 0xFE
#define UTVM_FRAME_START 0xFD

/* CRC-16/CCITT (poly 0x1021, no reflection); start with 0xFFFF. */
uint16_t utvm_crc16(uint16_t crc, const uint8_t* data, size_t n);

/* Where transmitted bytes go (the transport, or a test buffer). */
typedef utvm_status_t (*utvm_emit_fn)(void* ctx, const uint8_t* data, size_t n);

/* Buffered output: gathers small writes into one transport write. */
typedef struct {
  utvm_emit_fn emit;
  void* ctx;
  size_t fill;
  uint8_t buf[UTVM_TX_CHUNK];
} utvm_txbuf_t;

void utvm_txbuf_init(utvm_txbuf_t* b, utvm_emit_fn emit, void* ctx);
utvm_status_t utvm_txbuf_put(utvm_txbuf_t* b, const uint8_t* data, size_t n);
utvm_status_t utvm_txbuf_flush(utvm_txbuf_t* b);

/* Frame encoder: begin(len), write(...) until len bytes given, end(). */
typedef struct {
  utvm_txbuf_t out;
  uint32_t remaining; /* payload bytes still expected in this frame */
  uint16_t crc;
  bool in_frame;
  bool reset_state; /* next frame is preceded by one raw FE */
} utvm_framer_tx_t;

void utvm_framer_tx_init(utvm_framer_tx_t* tx, utvm_emit_fn emit, void* ctx);
utvm_status_t utvm_framer_tx_begin(utvm_framer_tx_t* tx, uint32_t payload_len);
utvm_status_t utvm_framer_tx_write(utvm_framer_tx_t* tx, const uint8_t* data, size_t n);
utvm_status_t utvm_framer_tx_end(utvm_framer_tx_t* tx);

/* Frame decoder statistics. */
typedef struct {
  uint32_t frames_ok;
  uint32_t crc_errors;
  uint32_t escape_errors;  /* FF followed by an invalid byte */
  uint32_t oversized;      /* length field larger than the receive buffer */
  uint32_t abandoned;      /* a new FF FD arrived inside a frame */
} utvm_framer_stats_t;

typedef enum {
  UTVM_RX_WAIT_START = 0,
  UTVM_RX_LENGTH,
  UTVM_RX_PAYLOAD,
  UTVM_RX_CRC,
} utvm_rx_state_t;

/* Frame decoder. Payload bytes are written to buf (set by the owner between frames). */
typedef struct {
  uint8_t* buf;
  size_t cap;
  uint32_t len;
  uint32_t got;
  uint16_t crc;
  uint16_t rx_crc;
  uint8_t state;   /* utvm_rx_state_t */
  uint8_t field_i; /* index into a multi-byte field */
  bool escape;     /* previous byte was FF */
  utvm_framer_stats_t stats;
} utvm_framer_rx_t;

void utvm_framer_rx_init(utvm_framer_rx_t* rx, uint8_t* buf, size_t cap);
/* Point the decoder at a new payload buffer. Only between frames. */
void utvm_framer_rx_set_buffer(utvm_framer_rx_t* rx, uint8_t* buf, size_t cap);
/* Abandon any partial frame. */
void utvm_framer_rx_reset(utvm_framer_rx_t* rx);
/*
 * Decode bytes. Stops right after a complete valid frame: returns the number of
 * bytes consumed and sets *frame_len to the payload length (in buf), or returns n
 * with *frame_len = -1 when no frame completed.
 */
size_t utvm_framer_rx_feed(utvm_framer_rx_t* rx, const uint8_t* data, size_t n,
                           int32_t* frame_len);

#ifdef __cplusplus
}
#endif
#endif /* UTVM_FRAMING_H_ */
