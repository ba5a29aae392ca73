/*
 * Standard allocator: first fit over one caller buffer, with boundary tags so
 * Releasing coalesces with both neighbours in O(1). Every block starts with a
 * 16-byte header {size | USED, prev_size}; payloads are 16-byte aligned, larger
 * alignments are met by splitting a free block off the front.
 * release and contains walk the block list to validate host-supplied pointers,
 * so a wrong pointer is an error, never corruption.
 */
#include <string.h>

#include "utvm/memory.h"

#define UNIT ((uintptr_t)16)
#define HDR UNIT
#define USED ((size_t)1)

typedef struct {
  size_t size; /* whole block, header included; low bit = USED */
  size_t prev; /* size of the physically previous block, 0 for the first */
} hdr_t;

_Static_assert(sizeof(hdr_t) <= HDR, "header must fit its slot");

static hdr_t* H(uint8_t* p) { return (hdr_t*)(void*)p; }
static size_t bsize(const hdr_t* h) { return h->size & ~USED; }
static int bused(const hdr_t* h) { return (int)(h->size & USED); }

static uintptr_t round_up(uintptr_t v, uintptr_t a) { return (v + a - 1) & ~(a - 1); }

static utvm_std_allocator_t* self_of(utvm_allocator_t* a) { return (utvm_std_allocator_t*)a; }

static void set_block(utvm_std_allocator_t* s, uint8_t* p, size_t size, size_t used, size_t prev) {
  H(p)->size = size | used;
  H(p)->prev = prev;
  uint8_t* next = p + size;
  if (next < s->end) H(next)->prev = size;
}

static void std_reset(utvm_allocator_t* base) {
  utvm_std_allocator_t* s = self_of(base);
  size_t cap = (size_t)(s->end - s->begin);
  if (cap >= HDR) set_block(s, s->begin, cap, 0, 0);
  memset(&s->stats, 0, sizeof(s->stats));
  s->stats.capacity = cap;
}

static void* std_alloc(utvm_allocator_t* base, size_t nbytes, size_t alignment) {
  utvm_std_allocator_t* s = self_of(base);
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 ||
      nbytes > (size_t)(s->end - s->begin)) {
    s->stats.num_failures++;
    return NULL;
  }
  if (alignment < UNIT) alignment = UNIT;
  size_t need = (size_t)round_up(nbytes ? nbytes : 1, UNIT) + HDR;
  for (uint8_t* p = s->begin; p < s->end; p += bsize(H(p))) {
    if (bused(H(p))) continue;
    size_t size = bsize(H(p));
    size_t gap = (size_t)(round_up((uintptr_t)(p + HDR), alignment) - (uintptr_t)(p + HDR));
    if (gap + need > size) continue;
    size_t prev = H(p)->prev;
    if (gap > 0) { /* the front gap stays a free block (its left neighbour is used) */
      set_block(s, p, gap, 0, prev);
      prev = gap;
      p += gap;
      size -= gap;
    }
    size_t rest = size - need;
    if (rest >= HDR) {
      set_block(s, p, need, USED, prev);
      set_block(s, p + need, rest, 0, need);
    } else {
      set_block(s, p, size, USED, prev);
      need = size;
    }
    s->stats.in_use += need;
    if (s->stats.in_use > s->stats.high_water) s->stats.high_water = s->stats.in_use;
    s->stats.num_allocs++;
    return p + HDR;
  }
  s->stats.num_failures++;
  return NULL;
}

/* The used block whose payload contains ptr, or NULL. */
static uint8_t* find_used(utvm_std_allocator_t* s, const uint8_t* ptr) {
  if (ptr < s->begin + HDR || ptr >= s->end) return NULL;
  for (uint8_t* p = s->begin; p < s->end; p += bsize(H(p))) {
    uint8_t* next = p + bsize(H(p));
    if (ptr < next) return (bused(H(p)) && ptr >= p + HDR) ? p : NULL;
  }
  return NULL;
}

static utvm_status_t std_release(utvm_allocator_t* base, void* ptr) {
  utvm_std_allocator_t* s = self_of(base);
  uint8_t* p = find_used(s, (const uint8_t*)ptr);
  if (p == NULL || p + HDR != (uint8_t*)ptr) return UTVM_ERR_INVALID_ARG;
  size_t size = bsize(H(p));
  s->stats.in_use -= size;
  s->stats.num_frees++;
  uint8_t* next = p + size;
  if (next < s->end && !bused(H(next))) size += bsize(H(next));
  size_t prev = H(p)->prev;
  if (prev != 0 && !bused(H(p - prev))) {
    p -= prev;
    size += prev;
    prev = H(p)->prev;
  }
  set_block(s, p, size, 0, prev);
  return UTVM_OK;
}

static bool std_contains(utvm_allocator_t* base, const void* ptr, size_t nbytes) {
  utvm_std_allocator_t* s = self_of(base);
  const uint8_t* q = (const uint8_t*)ptr;
  uint8_t* p = find_used(s, q);
  return p != NULL && nbytes <= (size_t)(p + bsize(H(p)) - q);
}

static void std_get_stats(utvm_allocator_t* base, utvm_alloc_stats_t* out) {
  utvm_std_allocator_t* s = self_of(base);
  size_t largest = 0;
  for (uint8_t* p = s->begin; p < s->end; p += bsize(H(p))) {
    if (!bused(H(p)) && bsize(H(p)) - HDR > largest) largest = bsize(H(p)) - HDR;
  }
  *out = s->stats;
  out->largest_free = largest;
}

utvm_status_t utvm_std_allocator_init(utvm_std_allocator_t* a, void* buffer, size_t size) {
  if (a == NULL || buffer == NULL) return UTVM_ERR_INVALID_ARG;
  uint8_t* raw = (uint8_t*)buffer;
  uint8_t* begin = (uint8_t*)round_up((uintptr_t)raw, UNIT);
  if ((size_t)(begin - raw) + 2 * HDR > size) return UTVM_ERR_INVALID_ARG;
  size_t usable = (size - (size_t)(begin - raw)) & ~(size_t)(UNIT - 1);
  a->base.alloc = std_alloc;
  a->base.release = std_release;
  a->base.contains = std_contains;
  a->base.reset = std_reset;
  a->base.get_stats = std_get_stats;
  a->begin = begin;
  a->end = begin + usable;
  std_reset(&a->base);
  return UTVM_OK;
}

void* utvm_alloc(utvm_allocator_t* a, size_t nbytes, size_t alignment) {
  return a ? a->alloc(a, nbytes, alignment) : NULL;
}

utvm_status_t utvm_free(utvm_allocator_t* a, void* ptr) {
  return a ? a->release(a, ptr) : UTVM_ERR_INVALID_ARG;
}

bool utvm_alloc_contains(utvm_allocator_t* a, const void* ptr, size_t nbytes) {
  if (a == NULL) return false;
  return a->contains ? a->contains(a, ptr, nbytes) : true;
}

void utvm_alloc_reset(utvm_allocator_t* a) {
  if (a != NULL && a->reset != NULL) a->reset(a);
}

void utvm_alloc_get_stats(utvm_allocator_t* a, utvm_alloc_stats_t* out) {
  memset(out, 0, sizeof(*out));
  if (a != NULL && a->get_stats != NULL) a->get_stats(a, out);
}
