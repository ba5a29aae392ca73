/* Standard allocator and registry. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "utvm/byte_ring.h"
#include "utvm/config.h"
#include "utvm/memory.h"
#include "utvm/runtime.h"

static _Alignas(16) uint8_t g_buf[4096 + 7];

static void test_alloc_free_coalesce(void) {
  utvm_std_allocator_t a;
  utvm_alloc_stats_t st;
  CHECK(utvm_std_allocator_init(&a, g_buf + 7, 4096) == UTVM_OK); /* misaligned buffer */
  utvm_alloc_get_stats(&a.base, &st);
  size_t cap = st.largest_free;
  void* p[8];
  for (int i = 0; i < 8; ++i) {
    p[i] = utvm_alloc(&a.base, 100, 16);
    CHECK(p[i] != NULL && ((uintptr_t)p[i] % 16) == 0);
    memset(p[i], 0xAB, 100);
  }
  /* free in an interleaved order; everything must coalesce back */
  for (int i = 0; i < 8; i += 2) CHECK(utvm_free(&a.base, p[i]) == UTVM_OK);
  for (int i = 1; i < 8; i += 2) CHECK(utvm_free(&a.base, p[i]) == UTVM_OK);
  utvm_alloc_get_stats(&a.base, &st);
  CHECK(st.largest_free == cap && st.in_use == 0 && st.num_allocs == 8 && st.num_frees == 8);
  CHECK(st.high_water >= 800);
}

static void test_alignment_and_exhaustion(void) {
  utvm_std_allocator_t a;
  CHECK(utvm_std_allocator_init(&a, g_buf, 4096) == UTVM_OK);
  void* small = utvm_alloc(&a.base, 8, 16);
  void* big = utvm_alloc(&a.base, 256, 256);
  CHECK(small && big && ((uintptr_t)big % 256) == 0);
  CHECK(utvm_alloc(&a.base, 1 << 20, 16) == NULL);
  CHECK(utvm_alloc(&a.base, 64, 3) == NULL); /* not a power of two */
  CHECK(utvm_alloc(&a.base, SIZE_MAX, 16) == NULL);
  utvm_alloc_stats_t st;
  utvm_alloc_get_stats(&a.base, &st);
  CHECK(st.num_failures == 3);
  /* fill the heap with 64-byte blocks until it refuses, then free all */
  void* blocks[128];
  int n = 0;
  while (n < 128 && (blocks[n] = utvm_alloc(&a.base, 64, 16)) != NULL) n++;
  CHECK(n > 10 && n < 128);
  for (int i = 0; i < n; ++i) CHECK(utvm_free(&a.base, blocks[i]) == UTVM_OK);
  CHECK(utvm_free(&a.base, big) == UTVM_OK);
  CHECK(utvm_free(&a.base, small) == UTVM_OK);
  utvm_alloc_get_stats(&a.base, &st);
  CHECK(st.in_use == 0);
}

static void test_invalid_pointers(void) {
  utvm_std_allocator_t a;
  CHECK(utvm_std_allocator_init(&a, g_buf, 4096) == UTVM_OK);
  uint8_t* p = (uint8_t*)utvm_alloc(&a.base, 100, 16);
  CHECK(utvm_free(&a.base, p + 16) == UTVM_ERR_INVALID_ARG); /* inside, not the start */
  CHECK(utvm_free(&a.base, g_buf + 4000) == UTVM_ERR_INVALID_ARG); /* free space */
  CHECK(utvm_free(&a.base, (void*)(uintptr_t)0x10) == UTVM_ERR_INVALID_ARG);
  CHECK(utvm_alloc_contains(&a.base, p, 100));
  CHECK(utvm_alloc_contains(&a.base, p + 50, 50));
  CHECK(!utvm_alloc_contains(&a.base, p + 50, 4000));
  CHECK(!utvm_alloc_contains(&a.base, g_buf + 4000, 1));
  CHECK(utvm_free(&a.base, p) == UTVM_OK);
  CHECK(utvm_free(&a.base, p) == UTVM_ERR_INVALID_ARG); /* double free */
  CHECK(!utvm_alloc_contains(&a.base, p, 1));
}

static void test_reset(void) {
  utvm_std_allocator_t a;
  CHECK(utvm_std_allocator_init(&a, g_buf, 4096) == UTVM_OK);
  CHECK(utvm_alloc(&a.base, 1000, 16) != NULL);
  utvm_alloc_reset(&a.base);
  CHECK(utvm_alloc(&a.base, 3500, 16) != NULL);
}

static int32_t f_one(void* s, void* a, int32_t n, void* r) {
  (void)s; (void)a; (void)n;
  ((TVMFFIAny*)r)->type_index = kTVMFFIInt;
  ((TVMFFIAny*)r)->v_int64 = 1;
  return 0;
}

static int32_t f_fail_silently(void* s, void* a, int32_t n, void* r) {
  (void)s; (void)a; (void)n; (void)r;
  return -1;
}

static void test_registry_and_errors(void) {
  static const utvm_func_t funcs[] = {{"one", f_one, NULL}, {"quiet", f_fail_silently, NULL}};
  static const utvm_func_registry_t reg = {funcs, 2};
  CHECK(utvm_registry_find(&reg, "one") == &funcs[0]);
  CHECK(utvm_registry_find(&reg, "two") == NULL);
  TVMFFIAny rv;
  CHECK(utvm_func_call(&funcs[0], NULL, 0, &rv) == 0 && rv.v_int64 == 1);
  CHECK(utvm_func_call(&funcs[1], NULL, 0, &rv) == -1);
  CHECK(strstr(utvm_error_get(), "quiet") != NULL);
  const char* parts[3] = {"a", "b", "c"};
  TVMFFIErrorSetRaisedFromCStrParts("ValueError", parts, 3);
  CHECK(strcmp(utvm_error_get(), "ValueError: abc") == 0);
  char longmsg[400];
  memset(longmsg, 'x', sizeof(longmsg) - 1);
  longmsg[sizeof(longmsg) - 1] = 0;
  utvm_error_set("E", longmsg); /* truncated, still terminated */
  CHECK(strlen(utvm_error_get()) < UTVM_ERROR_MSG_SIZE);
  char num[22];
  CHECK(strcmp(utvm_fmt_i64(num, INT64_MIN), "-9223372036854775808") == 0);
  CHECK(strcmp(utvm_fmt_u64(num, 0), "0") == 0);
}


static void test_byte_ring(void) {
  uint8_t store[8], out[16];
  utvm_byte_ring_t r;
  CHECK(utvm_byte_ring_init(&r, store, 6) == -1); /* not a power of two */
  CHECK(utvm_byte_ring_init(&r, store, 8) == 0);
  CHECK(utvm_byte_ring_get(&r, out, sizeof(out)) == 0);
  /* wrap the indexes around many times; order and content survive */
  uint8_t next_in = 0, next_out = 0;
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 5; ++i) CHECK(utvm_byte_ring_put(&r, next_in++) == 0);
    size_t got = utvm_byte_ring_get(&r, out, 3 + (size_t)(round % 3));
    for (size_t i = 0; i < got; ++i) CHECK(out[i] == next_out++);
    got = utvm_byte_ring_get(&r, out, sizeof(out));
    for (size_t i = 0; i < got; ++i) CHECK(out[i] == next_out++);
  }
  CHECK(next_in == next_out && r.overruns == 0);
  /* full: the 9th byte is dropped and counted, earlier bytes kept */
  for (int i = 0; i < 8; ++i) CHECK(utvm_byte_ring_put(&r, (uint8_t)i) == 0);
  CHECK(utvm_byte_ring_put(&r, 99) == -1 && r.overruns == 1 && r.high_water == 8);
  CHECK(utvm_byte_ring_used(&r) == 8);
  CHECK(utvm_byte_ring_get(&r, out, sizeof(out)) == 8 && out[0] == 0 && out[7] == 7);
  /* indexes near 2^32 wrap without losing bytes */
  r.head = r.tail = UINT32_MAX - 2;
  for (int i = 0; i < 6; ++i) CHECK(utvm_byte_ring_put(&r, (uint8_t)(10 + i)) == 0);
  CHECK(utvm_byte_ring_used(&r) == 6);
  CHECK(utvm_byte_ring_get(&r, out, sizeof(out)) == 6 && out[0] == 10 && out[5] == 15);
}

void test_memory(void) {
  RUN(test_byte_ring);
  RUN(test_alloc_free_coalesce);
  RUN(test_alignment_and_exhaustion);
  RUN(test_invalid_pointers);
  RUN(test_reset);
  RUN(test_registry_and_errors);
}
