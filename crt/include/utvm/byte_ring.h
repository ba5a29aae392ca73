/*
 * Single-producer single-consumer byte ring, safe between one interrupt
 * handler (producer) and the main loop (consumer) without locks: each side
 * writes only its own index. Capacity must be a power of two.
 */
#ifndef UTVM_BYTE_RING_H_
#define UTVM_BYTE_RING_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  uint8_t* buf;
  uint32_t mask;          /* capacity - 1 */
  volatile uint32_t head; /* written by the producer only */
  volatile uint32_t tail; /* written by the consumer only */
  volatile uint32_t overruns; /* bytes the producer had to drop (ring full) */
  volatile uint32_t high_water; /* most bytes ever held at once */
} utvm_byte_ring_t;

/* 0 on success; -1 if capacity is not a power of two >= 2. */
int utvm_byte_ring_init(utvm_byte_ring_t* r, uint8_t* buf, uint32_t capacity);

/* Producer: store one byte; returns 0, or -1 (and counts an overrun) if full. */
int utvm_byte_ring_put(utvm_byte_ring_t* r, uint8_t byte);

/* Consumer: move up to cap bytes out; returns how many. */
size_t utvm_byte_ring_get(utvm_byte_ring_t* r, uint8_t* out, size_t cap);

static inline uint32_t utvm_byte_ring_used(const utvm_byte_ring_t* r) { return r->head - r->tail; }

#ifdef __cplusplus
}
#endif
#endif /* UTVM_BYTE_RING_H_ */
