/* Standalone driver for fuzz_device.c when libFuzzer is not available (gcc):
 * random and mutated-seed inputs for a bounded number of iterations.
 * usage: fuzz_driver ITERATIONS [SEED_FILE...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (uint32_t)g_rng;
}

int main(int argc, char** argv) {
  static uint8_t seeds[64][4096];
  static size_t seed_len[64];
  int nseeds = 0;
  long iters = argc > 1 ? atol(argv[1]) : 10000;
  for (int i = 2; i < argc && nseeds < 64; ++i) {
    FILE* f = fopen(argv[i], "rb");
    if (!f) continue;
    seed_len[nseeds] = fread(seeds[nseeds], 1, sizeof(seeds[0]), f);
    fclose(f);
    nseeds++;
  }
  static uint8_t buf[4096];
  for (long it = 0; it < iters; ++it) {
    size_t n;
    if (nseeds > 0 && rnd() % 4 != 0) {
      int s = (int)(rnd() % (uint32_t)nseeds);
      n = seed_len[s];
      memcpy(buf, seeds[s], n);
      int flips = 1 + (int)(rnd() % 8);
      for (int k = 0; k < flips && n > 0; ++k) buf[rnd() % n] = (uint8_t)rnd();
      if (rnd() % 4 == 0 && n > 1) n = 1 + rnd() % n; /* truncate */
    } else {
      n = rnd() % sizeof(buf);
      for (size_t k = 0; k < n; ++k) buf[k] = (uint8_t)(rnd() % 8 == 0 ? 0xFF : rnd());
    }
    LLVMFuzzerTestOneInput(buf, n);
  }
  printf("fuzz_driver: %ld inputs, no failure\n", iters);
  return 0;
}
