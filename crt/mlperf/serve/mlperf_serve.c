/* The parts every MLPerf Tiny firmware main shares (mlperf_serve.h). */
#include "utvm/mlperf_serve.h"

#include "utvm/platform.h"
#include "utvm/runtime.h"

uint64_t utvm_mlperf_clock_us(void* ctx) {
  const uint64_t hz = utvm_platform_timer_hz(), ticks = utvm_platform_timer_ticks();
  (void)ctx;
  return hz == 0u ? 0u : ticks / hz * 1000000u + ticks % hz * 1000000u / hz;
}

void utvm_mlperf_write_text(void* ctx, const char* text, size_t n) {
  (void)ctx;
  (void)utvm_platform_write((const uint8_t*)text, n);
}

const char* utvm_mlperf_describe(void* ctx, utvm_status_t st) {
  (void)ctx;
  return utvm_error_get()[0] ? utvm_error_get() : utvm_status_str(st);
}

int utvm_mlperf_serve(const utvm_mlperf_config_t* cfg, utvm_status_t init_status) {
  static utvm_mlperf_t parser;
  static uint8_t rx[64];
  if (init_status != UTVM_OK) {
    static const char kFailed[] = "e-[The model did not initialise; inferences will fail]\r\n";
    utvm_mlperf_write_text(NULL, kFailed, sizeof(kFailed) - 1);
  }
  utvm_mlperf_init(&parser, cfg);
  for (;;) {
    int32_t got = utvm_platform_read(rx, sizeof(rx));
    if (got <= 0) break; /* end of input (a host process) or a broken link */
    utvm_mlperf_feed(&parser, rx, (size_t)got);
  }
  return 0;
}
