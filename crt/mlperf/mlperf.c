/* MLPerf Tiny's device protocol over caller callbacks: see utvm/mlperf.h. */
#include "utvm/mlperf.h"

#include <string.h>

#define PROFILE "ULPMark for tinyML Firmware V0.0.1" /* the reference api's EE_FW_VERSION */
#define MAX_TOKENS 4u
#define MAX_DIGITS 9u /* numbers up to 999999999 */

typedef struct {
  const char* s;
  size_t n;
} token_t;

/* ---- output: a line at a time through cfg->write ---- */

static void flush(utvm_mlperf_t* m) {
  if (m->out_len > 0) m->cfg->write(m->cfg->ctx, m->out, m->out_len);
  m->out_len = 0;
}

static void put_n(utvm_mlperf_t* m, const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (m->out_len == sizeof(m->out)) flush(m);
    m->out[m->out_len++] = s[i];
  }
}

static void put(utvm_mlperf_t* m, const char* s) { put_n(m, s, strlen(s)); }

static void end_line(utvm_mlperf_t* m) {
  put_n(m, "\r\n", 2);
  flush(m);
}

static void line(utvm_mlperf_t* m, const char* s) {
  put(m, s);
  end_line(m);
}

static void put_u64(utvm_mlperf_t* m, uint64_t v) {
  char digits[20];
  size_t n = 0;
  do {
    digits[n++] = (char)('0' + (int)(v % 10u));
    v /= 10u;
  } while (v != 0);
  while (n > 0) put_n(m, &digits[--n], 1);
}

static void put_i64(utvm_mlperf_t* m, int64_t v) {
  if (v < 0) {
    put_n(m, "-", 1);
    put_u64(m, (uint64_t)0 - (uint64_t)v);
  } else {
    put_u64(m, (uint64_t)v);
  }
}

/* The token as received, with anything but printable ASCII shown as '?'. */
static void put_token(utvm_mlperf_t* m, token_t t) {
  for (size_t i = 0; i < t.n; ++i) {
    char c = t.s[i];
    put_n(m, (c >= 0x20 && c < 0x7f) ? &c : "?", 1);
  }
}

/* A real number with 6 decimals, or 7 significant digits and an exponent outside
 * [1e-4, 1e12); "nan", "inf", "-inf" as Python's float() reads them. No printf: boards
 * link a printf without floating point. */
static void put_real(utvm_mlperf_t* m, double v) {
  if (v != v) {
    put(m, "nan");
    return;
  }
  if (v < 0) {
    put_n(m, "-", 1);
    v = -v;
  }
  if (v > 1.7976931348623157e308) {
    put(m, "inf");
    return;
  }
  int exp10 = 0;
  if (v != 0.0 && (v < 1e-4 || v >= 1e12)) {
    while (v >= 10.0) {
      v /= 10.0;
      exp10++;
    }
    while (v < 1.0) {
      v *= 10.0;
      exp10--;
    }
  }
  uint64_t scaled = (uint64_t)(v * 1e6 + 0.5);
  if (exp10 != 0 && scaled >= 10000000u) { /* 9.9999996 rounded up to 10 */
    scaled = (scaled + 5u) / 10u;
    exp10++;
  }
  put_u64(m, scaled / 1000000u);
  put_n(m, ".", 1);
  char frac[6];
  uint64_t f = scaled % 1000000u;
  for (int i = 5; i >= 0; --i) {
    frac[i] = (char)('0' + (int)(f % 10u));
    f /= 10u;
  }
  put_n(m, frac, 6);
  if (exp10 != 0) {
    put_n(m, "e", 1);
    put_i64(m, exp10);
  }
}

static void error_status(utvm_mlperf_t* m, const char* what, utvm_status_t st) {
  put(m, "e-[");
  put(m, what);
  put(m, ": ");
  const char* why = m->cfg->describe ? m->cfg->describe(m->cfg->ctx, st) : NULL;
  if (why != NULL && why[0] != 0) {
    put(m, why);
  } else {
    put(m, "status ");
    put_u64(m, (uint64_t)st);
  }
  put(m, "]");
  end_line(m);
}

/* ---- parsing ---- */

static int token_is(token_t t, const char* word) { return t.n == strlen(word) && memcmp(t.s, word, t.n) == 0; }

/* A decimal number of 1..MAX_DIGITS digits; 0 if the token is anything else. */
static int parse_uint(token_t t, uint32_t* value) {
  if (t.n == 0 || t.n > MAX_DIGITS) return 0;
  uint32_t v = 0;
  for (size_t i = 0; i < t.n; ++i) {
    if (t.s[i] < '0' || t.s[i] > '9') return 0;
    v = v * 10u + (uint32_t)(t.s[i] - '0');
  }
  *value = v;
  return 1;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static void bad_number(utvm_mlperf_t* m, token_t t) {
  put(m, "e-[Invalid number '");
  put_token(m, t);
  put(m, "': expected 1 to 9 decimal digits]");
  end_line(m);
}

static void print_results(utvm_mlperf_t* m) {
  const utvm_mlperf_config_t* c = m->cfg;
  int first = 1;
  put(m, "m-results-[");
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
      if (!first) put_n(m, ",", 1);
      first = 0;
      if (out->dtype == UTVM_MLPERF_F32) {
        put_real(m, v);
      } else if (out->quantized) { /* as TFLite's DequantizeInt8ToFloat: in float */
        put_real(m, (double)(out->scale * (float)(q - out->zero_point)));
      } else {
        put_i64(m, q);
      }
    }
  }
  put(m, "]");
  end_line(m);
}

static void cmd_db(utvm_mlperf_t* m, const token_t* tok, size_t n) {
  const utvm_mlperf_config_t* c = m->cfg;
  if (n < 2) {
    line(m, "e-[Command 'db' requires a subcommand: load N, print, or hex bytes]");
  } else if (token_is(tok[1], "load")) {
    uint32_t bytes = 0;
    if (n != 3) {
      line(m, "e-[Command 'db load' requires the # of bytes, and nothing more]");
    } else if (!parse_uint(tok[2], &bytes)) {
      bad_number(m, tok[2]);
    } else if (bytes != c->input_bytes) {
      put(m, "e-[db load ");
      put_u64(m, bytes);
      put(m, ": the model's input is ");
      put_u64(m, c->input_bytes);
      put(m, " bytes]");
      end_line(m);
    } else {
      m->expect = bytes;
      m->loaded = 0;
      put(m, "m-[Expecting ");
      put_u64(m, bytes);
      put(m, " bytes]");
      end_line(m);
    }
  } else if (token_is(tok[1], "print")) {
    static const char kHex[] = "0123456789abcdef";
    for (size_t i = 0; i < m->loaded; ++i) {
      char pair[2] = {kHex[c->input[i] >> 4], kHex[c->input[i] & 15u]};
      put(m, i % 8u == 0 ? "m-buffer-" : "-");
      put_n(m, pair, 2);
      if (i % 8u == 7u || i + 1 == m->loaded) end_line(m);
    }
  } else if (n > 2) {
    line(m, "e-[Command 'db' takes one hex string at a time]");
  } else {
    token_t hex = tok[1];
    if (m->expect == 0) {
      line(m, "e-[No load in progress: send db load N first]");
      return;
    }
    if (hex.n % 2u != 0) {
      line(m, "e-[Insufficient number of hex digits]");
      return;
    }
    for (size_t i = 0; i < hex.n; i += 2) {
      if (hex_value(hex.s[i]) < 0 || hex_value(hex.s[i + 1]) < 0) {
        token_t pair = {hex.s + i, 2};
        put(m, "e-[Invalid hex digit '");
        put_token(m, pair);
        put(m, "']");
        end_line(m);
        return;
      }
    }
    if (hex.n / 2u > m->expect - m->loaded) {
      put(m, "e-[Too many bytes: ");
      put_u64(m, hex.n / 2u);
      put(m, " sent, ");
      put_u64(m, m->expect - m->loaded);
      put(m, " still expected]");
      end_line(m);
      return;
    }
    for (size_t i = 0; i < hex.n; i += 2) {
      c->input[m->loaded++] = (uint8_t)(hex_value(hex.s[i]) << 4 | hex_value(hex.s[i + 1]));
    }
    if (m->loaded == m->expect) line(m, "m-load-done");
  }
}

static int run(utvm_mlperf_t* m, uint32_t count) {
  for (uint32_t i = 0; i < count; ++i) {
    utvm_status_t st = m->cfg->infer(m->cfg->ctx);
    if (st != UTVM_OK) {
      error_status(m, "Inference failed", st);
      return 0;
    }
  }
  return 1;
}

static void lap(utvm_mlperf_t* m, uint64_t us) {
  put(m, "m-lap-us-");
  put_u64(m, us);
  end_line(m);
}

static void cmd_infer(utvm_mlperf_t* m, const token_t* tok, size_t n) {
  const utvm_mlperf_config_t* c = m->cfg;
  uint32_t runs = 1, warmups = 10;
  if (n > 3) {
    line(m, "e-[Command 'infer' takes N and W, and nothing more]");
    return;
  }
  if (n > 1 && !parse_uint(tok[1], &runs)) {
    bad_number(m, tok[1]);
    return;
  }
  if (n > 2 && !parse_uint(tok[2], &warmups)) {
    bad_number(m, tok[2]);
    return;
  }
  if (runs == 0) {
    line(m, "e-[Inference iterations must be >0]");
    return;
  }
  if (m->expect != c->input_bytes || m->loaded != m->expect) {
    line(m, "e-[No input: send db load N and its bytes first]");
    return;
  }
  utvm_status_t st = c->load(c->ctx, c->input, c->input_bytes);
  if (st != UTVM_OK) {
    error_status(m, "Loading the input failed", st);
    return;
  }
  put(m, "m-warmup-start-");
  put_u64(m, warmups);
  end_line(m);
  if (!run(m, warmups)) return;
  line(m, "m-warmup-done");
  put(m, "m-infer-start-");
  put_u64(m, runs);
  end_line(m);
  lap(m, c->now_us(c->ctx));
  if (!run(m, runs)) return;
  lap(m, c->now_us(c->ctx));
  line(m, "m-infer-done");
  m->has_results = 0;
  st = c->fetch(c->ctx);
  if (st != UTVM_OK) {
    error_status(m, "Reading the outputs failed", st);
    return;
  }
  m->has_results = 1;
  print_results(m);
}

static void help(utvm_mlperf_t* m) {
  line(m, PROFILE);
  line(m, "help         : Print this information");
  line(m, "name         : Print the name of the device");
  line(m, "timestamp    : Generate a timestamp (m-lap-us-N, microseconds)");
  line(m, "db SUBCMD    : Manipulate the input buffer");
  line(m, "  load N     : Expect N bytes (the model's input size)");
  line(m, "  db HH[HH]* : Load 8-bit hex byte(s) until N bytes");
  line(m, "  print      : Print the loaded bytes as hex");
  line(m, "infer N [W=10]: Load input, execute N inferences after W warmup loops");
  line(m, "results      : Return the result vector of the last inference");
}

static void dispatch(utvm_mlperf_t* m) {
  const utvm_mlperf_config_t* c = m->cfg;
  token_t tok[MAX_TOKENS];
  size_t n = 0, i = 0;
  if (m->overflow) {
    put(m, "e-[Command too long: more than ");
    put_u64(m, UTVM_MLPERF_LINE_MAX);
    put(m, " characters]");
    end_line(m);
  } else {
    while (i < m->len) {
      while (i < m->len && m->line[i] == ' ') i++;
      size_t start = i;
      while (i < m->len && m->line[i] != ' ') i++;
      if (i == start) break;
      if (n == MAX_TOKENS) { /* more words than any command takes: the last says so */
        n = MAX_TOKENS + 1;
        break;
      }
      tok[n].s = m->line + start;
      tok[n].n = i - start;
      n++;
    }
    if (n > MAX_TOKENS) {
      line(m, "e-[Too many arguments]");
    } else if (n == 0) {
      /* an empty command: the runner's way of flushing a partial one */
    } else if (token_is(tok[0], "name") && n == 1) {
      put(m, "m-name-dut-[");
      put(m, c->device_name);
      put(m, "]");
      end_line(m);
    } else if (token_is(tok[0], "profile") && n == 1) {
      line(m, "m-profile-[" PROFILE "]");
      put(m, "m-model-[");
      put(m, c->model_name);
      put(m, "]");
      end_line(m);
    } else if (token_is(tok[0], "timestamp") && n == 1) {
      lap(m, c->now_us(c->ctx));
    } else if (token_is(tok[0], "help") && n == 1) {
      help(m);
    } else if (token_is(tok[0], "results") && n == 1) {
      if (m->has_results) {
        print_results(m);
      } else {
        line(m, "e-[No results: run infer first]");
      }
    } else if (token_is(tok[0], "db")) {
      cmd_db(m, tok, n);
    } else if (token_is(tok[0], "infer")) {
      cmd_infer(m, tok, n);
    } else if (n > 1 && (token_is(tok[0], "name") || token_is(tok[0], "profile") ||
                         token_is(tok[0], "timestamp") || token_is(tok[0], "help") ||
                         token_is(tok[0], "results"))) {
      put(m, "e-[Command '");
      put_token(m, tok[0]);
      put(m, "' takes no arguments]");
      end_line(m);
    } else {
      put(m, "e-[Unknown command: ");
      put_token(m, tok[0]);
      put(m, "]");
      end_line(m);
    }
  }
  line(m, "m-ready");
  m->len = 0;
  m->overflow = 0;
}

void utvm_mlperf_init(utvm_mlperf_t* m, const utvm_mlperf_config_t* cfg) {
  memset(m, 0, sizeof(*m));
  m->cfg = cfg;
  line(m, "m-timestamp-mode-performance");
  lap(m, cfg->now_us(cfg->ctx));
  line(m, "m-init-done");
  line(m, "m-ready");
}

void utvm_mlperf_feed(utvm_mlperf_t* m, const uint8_t* data, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    char ch = (char)data[i];
    if (ch == '%') {
      dispatch(m);
      continue;
    }
    if (ch == '\r' || ch == '\n' || ch == '\t') ch = ' '; /* a terminal's line ends are spaces */
    if (m->len < sizeof(m->line)) {
      m->line[m->len++] = ch;
    } else {
      m->overflow = 1;
    }
  }
}
