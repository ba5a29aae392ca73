/* What every MLPerf Tiny firmware main shares (crt/templates/mlperf_main.c, mlperf_aot_main.c;
 * implemented in crt/mlperf/serve/mlperf_serve.c): the board's timer in microseconds, text out, an
 * error described, and the loop that feeds the link's bytes to the protocol (crt/mlperf/mlperf.c). */
#ifndef UTVM_MLPERF_SERVE_H_
#define UTVM_MLPERF_SERVE_H_

#include <stddef.h>
#include <stdint.h>

#include "utvm/mlperf.h"
#include "utvm/status.h"

/* The port's free-running counter (utvm_platform_timer_ticks), in microseconds. */
uint64_t utvm_mlperf_clock_us(void* ctx);
void utvm_mlperf_write_text(void* ctx, const char* text, size_t n);
/* The runtime's last error, else the status's name. */
const char* utvm_mlperf_describe(void* ctx, utvm_status_t st);
/* Says so if the model did not initialise (inferences then fail with its status), then serves the
 * protocol until the link ends. Returns the main's exit status. */
int utvm_mlperf_serve(const utvm_mlperf_config_t* cfg, utvm_status_t init_status);

#endif
