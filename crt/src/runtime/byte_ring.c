/* SPSC byte ring; indexes run freely and wrap modulo 2^32. */
#include "utvm/byte_ring.h"

int utvm_byte_ring_init(utvm_byte_ring_t* r, uint8_t* buf, uint32_t capacity) {
  if (capacity < 2 || (capacity & (capacity - 1)) != 0) return -1;
  r->buf = buf;
  r->mask = capacity - 1;
  r->head = r->tail = 0;
  r->overruns = r->high_water = 0;
  return 0;
}

int utvm_byte_ring_put(utvm_byte_ring_t* r, uint8_t byte) {
  uint32_t head = r->head;
  uint32_t used = head - r->tail;
  if (used > r->mask) {
    r->overruns++;
    return -1;
  }
  r->buf[head & r->mask] = byte;
  __atomic_thread_fence(__ATOMIC_RELEASE); /* the byte is visible before the index */
  r->head = head + 1;
  if (used + 1 > r->high_water) r->high_water = used + 1;
  return 0;
}

size_t utvm_byte_ring_get(utvm_byte_ring_t* r, uint8_t* out, size_t cap) {
  uint32_t tail = r->tail;
  uint32_t avail = r->head - tail;
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  size_t n = avail < cap ? avail : cap;
  for (size_t i = 0; i < n; i++) out[i] = r->buf[(tail + (uint32_t)i) & r->mask];
  __atomic_thread_fence(__ATOMIC_RELEASE); /* bytes are read before the slot is given back */
  r->tail = tail + (uint32_t)n;
  return n;
}
