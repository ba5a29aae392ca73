/*
 * Memory: a bring-your-own allocator interface and a standard allocator over a
 * caller-supplied buffer. Nothing in utvm calls malloc.
 */
#ifndef UTVM_MEMORY_H_
#define UTVM_MEMORY_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "utvm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  size_t capacity;     /* bytes managed */
  size_t in_use;       /* bytes handed out now, headers included */
  size_t high_water;   /* maximum of in_use since init/reset */
  size_t largest_free; /* largest single request that could succeed now (approx.) */
  uint32_t num_allocs;
  uint32_t num_frees;
  uint32_t num_failures;
} utvm_alloc_stats_t;

typedef struct utvm_allocator utvm_allocator_t;

/* Bring-your-own allocator: fill in the function pointers. */
struct utvm_allocator {
  /* Required. alignment is a power of two. NULL when the request cannot be met. */
  void* (*alloc)(utvm_allocator_t* self, size_t nbytes, size_t alignment);
  /* Required: give memory back. UTVM_ERR_INVALID_ARG for a pointer this allocator did not hand out. */
  utvm_status_t (*release)(utvm_allocator_t* self, void* ptr);
  /* Optional: true when [ptr, ptr+nbytes) lies inside one live allocation. The
   * RPC server uses it to refuse host-supplied pointers it does not own. */
  bool (*contains)(utvm_allocator_t* self, const void* ptr, size_t nbytes);
  /* Optional: release everything (a new host session starts). */
  void (*reset)(utvm_allocator_t* self);
  /* Optional: figures for utvm.Stats. */
  void (*get_stats)(utvm_allocator_t* self, utvm_alloc_stats_t* out);
};

/* The standard allocator: first fit with coalescing over one buffer. */
typedef struct {
  utvm_allocator_t base; /* first: a utvm_std_allocator_t* is a utvm_allocator_t* */
  uint8_t* begin;
  uint8_t* end;
  utvm_alloc_stats_t stats;
} utvm_std_allocator_t;

/* Buffer must stay valid for the allocator's life; any alignment is accepted. */
utvm_status_t utvm_std_allocator_init(utvm_std_allocator_t* a, void* buffer, size_t size);

/* Convenience wrappers tolerant of optional members. */
void* utvm_alloc(utvm_allocator_t* a, size_t nbytes, size_t alignment);
utvm_status_t utvm_free(utvm_allocator_t* a, void* ptr);
bool utvm_alloc_contains(utvm_allocator_t* a, const void* ptr, size_t nbytes);
void utvm_alloc_reset(utvm_allocator_t* a);
void utvm_alloc_get_stats(utvm_allocator_t* a, utvm_alloc_stats_t* out);

#ifdef __cplusplus
}
#endif
#endif /* UTVM_MEMORY_H_ */
