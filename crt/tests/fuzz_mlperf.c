/*
 * Fuzz target for the MLPerf Tiny protocol parser (crt/mlperf/mlperf.c), the decoder of the
 * bytes a benchmark runner sends over the UART. Input: [split][data...]; the data is fed in
 * pieces of 1 + split % 16 bytes. After every input the parser must still serve, and must have
 * kept the protocol: one m-ready per '%', every line an m- or e- message (or help text), only
 * printable ASCII and CR LF. Otherwise: abort.
 * Built with libFuzzer (clang -fsanitize=fuzzer) or fuzz_driver.c (gcc).
 */
#include <stdlib.h>
#include <string.h>

#include "mlperf_fake.h"

static utvm_mlperf_t g_m;

static size_t count(const char* hay, const char* needle) {
  size_t n = 0;
  for (const char* at = strstr(hay, needle); at != NULL; at = strstr(at + 1, needle)) n++;
  return n;
}

static void check_output(size_t commands) {
  if (count(g_fake_out, "m-ready\r\n") != commands) abort();
  const char* line = g_fake_out;
  for (size_t i = 0; i < g_fake_out_len; ++i) {
    char c = g_fake_out[i];
    if (c == '\n') {
      if (i == 0 || g_fake_out[i - 1] != '\r') abort();
      line = g_fake_out + i + 1;
    } else if (c != '\r' && (c < 0x20 || c > 0x7e)) {
      abort();
    } else if (line == g_fake_out + i && strchr("meUhntdir ", c) == NULL) {
      abort(); /* help text lines start with a command name or its profile string */
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  fake_reset(&g_m);
  g_fake_fail_at = data[0] % 7u == 0 ? 2 : 0;
  size_t piece = 1u + data[0] % 16u;
  size_t percents = 0;
  data++;
  size--;
  for (size_t i = 0; i < size; ++i) percents += data[i] == '%';
  g_fake_out_len = 0;
  g_fake_out[0] = 0;
  for (size_t at = 0; at < size; at += piece) {
    utvm_mlperf_feed(&g_m, data + at, size - at < piece ? size - at : piece);
  }
  if (g_fake_out_len < sizeof(g_fake_out) / 2) check_output(percents);
  /* still serving: a fresh command after whatever the input left half-typed */
  g_fake_out_len = 0;
  g_fake_out[0] = 0;
  fake_send(&g_m, "%name%");
  static const char kTail[] = "m-name-dut-[utvm-test]\r\nm-ready\r\n";
  if (count(g_fake_out, "m-ready\r\n") != 2 || g_fake_out_len < sizeof(kTail) - 1 ||
      strcmp(g_fake_out + g_fake_out_len - (sizeof(kTail) - 1), kTail) != 0) {
    abort();
  }
  return 0;
}
