/* Output of the MLPerf Tiny protocol parser (mlperf_print.c), shared by its two files:
 * text goes out a line at a time through the config's write(). Internal to crt/mlperf/. */
#ifndef UTVM_MLPERF_PRINT_H_
#define UTVM_MLPERF_PRINT_H_

#include <stddef.h>
#include <stdint.h>

#include "utvm/mlperf.h"

void utvm_mlperf_put_n(utvm_mlperf_t* m, const char* s, size_t n);
void utvm_mlperf_put(utvm_mlperf_t* m, const char* s);
void utvm_mlperf_end_line(utvm_mlperf_t* m); /* "\r\n", then the line goes out */
void utvm_mlperf_line(utvm_mlperf_t* m, const char* s);
void utvm_mlperf_put_u64(utvm_mlperf_t* m, uint64_t v);
void utvm_mlperf_put_i64(utvm_mlperf_t* m, int64_t v);
/* Received text, with anything but printable ASCII shown as '?'. */
void utvm_mlperf_put_token(utvm_mlperf_t* m, const char* s, size_t n);
/* At least 7 significant digits, with an exponent outside [1e-4, 1e12); nan, inf, -inf. */
void utvm_mlperf_put_real(utvm_mlperf_t* m, double v);
void utvm_mlperf_lap(utvm_mlperf_t* m, uint64_t us); /* m-lap-us-N */
void utvm_mlperf_print_results(utvm_mlperf_t* m);    /* m-results-[...] of the outputs */

#endif /* UTVM_MLPERF_PRINT_H_ */
