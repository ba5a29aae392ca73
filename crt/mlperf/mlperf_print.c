/* Output of the MLPerf Tiny protocol parser: lines, numbers without printf, m-results. */
#include <string.h>

#include "mlperf_print.h"

/* ---- output: a line at a time through cfg->write ---- */

static void flush(utvm_mlperf_t* m) {
  if (m->out_len > 0) m->cfg->write(m->cfg->ctx, m->out, m->out_len);
  m->out_len = 0;
}

void utvm_mlperf_put_n(utvm_mlperf_t* m, const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (m->out_len == sizeof(m->out)) flush(m);
    m->out[m->out_len++] = s[i];
  }
}

void utvm_mlperf_put(utvm_mlperf_t* m, const char* s) { utvm_mlperf_put_n(m, s, strlen(s)); }

void utvm_mlperf_end_line(utvm_mlperf_t* m) {
  utvm_mlperf_put_n(m, "\r\n", 2);
  flush(m);
}

void utvm_mlperf_line(utvm_mlperf_t* m, const char* s) {
  utvm_mlperf_put(m, s);
  utvm_mlperf_end_line(m);
}

void utvm_mlperf_put_u64(utvm_mlperf_t* m, uint64_t v) {
  char digits[20];
  size_t n = 0;
  do {
    digits[n++] = (char)('0' + (int)(v % 10u));
    v /= 10u;
  } while (v != 0);
  while (n > 0) utvm_mlperf_put_n(m, &digits[--n], 1);
}

void utvm_mlperf_put_i64(utvm_mlperf_t* m, int64_t v) {
  if (v < 0) {
    utvm_mlperf_put_n(m, "-", 1);
    utvm_mlperf_put_u64(m, (uint64_t)0 - (uint64_t)v);
  } else {
    utvm_mlperf_put_u64(m, (uint64_t)v);
  }
}

/* The token as received, with anything but printable ASCII shown as '?'. */
void utvm_mlperf_put_token(utvm_mlperf_t* m, const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    char c = s[i];
    utvm_mlperf_put_n(m, (c >= 0x20 && c < 0x7f) ? &c : "?", 1);
  }
}

/* A real number to at least 7 significant digits: fixed in [1e-4, 1e12) (6 decimals from 1
 * up, as many as 7 significant digits need below 1), else d.dddddde[-]N; "nan", "inf", "-inf"
 * as Python's float() reads them. No printf: boards link a printf without floating point. */
void utvm_mlperf_put_real(utvm_mlperf_t* m, double v) {
  static const uint64_t kPow10[] = {1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u,
                                    100000000u, 1000000000u, 10000000000u};
  if (v != v) {
    utvm_mlperf_put(m, "nan");
    return;
  }
  if (v < 0) {
    utvm_mlperf_put_n(m, "-", 1);
    v = -v;
  }
  if (v > 1.7976931348623157e308) {
    utvm_mlperf_put(m, "inf");
    return;
  }
  int exp10 = 0;
  unsigned decimals = 6;
  if (v != 0.0 && (v < 1e-4 || v >= 1e12)) {
    while (v >= 10.0) {
      v /= 10.0;
      exp10++;
    }
    while (v < 1.0) {
      v *= 10.0;
      exp10--;
    }
  } else if (v != 0.0 && v < 1.0) {
    decimals = 7;
    for (double t = v * 10.0; t < 1.0 && decimals < 10u; t *= 10.0) decimals++;
  }
  uint64_t scaled = (uint64_t)(v * (double)kPow10[decimals] + 0.5);
  if (exp10 != 0 && scaled >= 10000000u) { /* 9.9999996 rounded up to 10 */
    scaled = (scaled + 5u) / 10u;
    exp10++;
  }
  utvm_mlperf_put_u64(m, scaled / kPow10[decimals]);
  utvm_mlperf_put_n(m, ".", 1);
  char frac[10];
  uint64_t f = scaled % kPow10[decimals];
  for (unsigned i = decimals; i > 0; --i) {
    frac[i - 1] = (char)('0' + (int)(f % 10u));
    f /= 10u;
  }
  utvm_mlperf_put_n(m, frac, decimals);
  if (exp10 != 0) {
    utvm_mlperf_put_n(m, "e", 1);
    utvm_mlperf_put_i64(m, exp10);
  }
}

void utvm_mlperf_lap(utvm_mlperf_t* m, uint64_t us) {
  utvm_mlperf_put(m, "m-lap-us-");
  utvm_mlperf_put_u64(m, us);
  utvm_mlperf_end_line(m);
}

void utvm_mlperf_print_results(utvm_mlperf_t* m) {
  const utvm_mlperf_config_t* c = m->cfg;
  int first = 1;
  utvm_mlperf_put(m, "m-results-[");
  for (size_t o = 0; o < c->num_outputs; ++o) {
    const utvm_mlperf_output_t* out = &c->outputs[o];
    for (uint32_t i = 0; i < out->count; ++i) {
      int64_t q = 0;
      double v = 0.0;
      switch (out->dtype) {
        case UTVM_MLPERF_F32: v = (double)((const float*)out->data)[i]; break;
        case UTVM_MLPERF_I8: q = ((const int8_t*)out->data)[i]; break;
        case UTVM_MLPERF_U8: q = ((const uint8_t*)out->data)[i]; break;
        case UTVM_MLPERF_I16: q = ((const int16_t*)out->data)[i]; break;
        case UTVM_MLPERF_U16: q = ((const uint16_t*)out->data)[i]; break;
        case UTVM_MLPERF_I32: q = ((const int32_t*)out->data)[i]; break;
        default: break;
      }
      if (!first) utvm_mlperf_put_n(m, ",", 1);
      first = 0;
      if (out->dtype == UTVM_MLPERF_F32) {
        utvm_mlperf_put_real(m, v);
      } else if (out->quantized) { /* as TFLite's DequantizeInt8ToFloat: in float */
        utvm_mlperf_put_real(m, (double)(out->scale * (float)(q - out->zero_point)));
      } else {
        utvm_mlperf_put_i64(m, q);
      }
    }
  }
  utvm_mlperf_put(m, "]");
  utvm_mlperf_end_line(m);
}
