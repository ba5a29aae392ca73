/* MLPerf Tiny's device protocol over caller callbacks: see utvm/mlperf.h. */
#include "utvm/mlperf.h"

#include <string.h>

#include "mlperf_print.h"

#define PROFILE "ULPMark for tinyML Firmware V0.0.1" /* the reference api's EE_FW_VERSION */
#define MAX_TOKENS 4u
#define MAX_DIGITS 9u /* numbers up to 999999999 */

typedef struct {
  const char* s;
  size_t n;
} token_t;
static void error_status(utvm_mlperf_t* m, const char* what, utvm_status_t st) {
  utvm_mlperf_put(m, "e-[");
  utvm_mlperf_put(m, what);
  utvm_mlperf_put(m, ": ");
  const char* why = m->cfg->describe ? m->cfg->describe(m->cfg->ctx, st) : NULL;
  if (why != NULL && why[0] != 0) {
    utvm_mlperf_put(m, why);
  } else {
    utvm_mlperf_put(m, "status ");
    utvm_mlperf_put_u64(m, (uint64_t)st);
  }
  utvm_mlperf_put(m, "]");
  utvm_mlperf_end_line(m);
}

/* ---- parsing ---- */

static int token_is(token_t t, const char* word) {
  return t.n == strlen(word) && memcmp(t.s, word, t.n) == 0;
}

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
  utvm_mlperf_put(m, "e-[Invalid number '");
  utvm_mlperf_put_token(m, t.s, t.n);
  utvm_mlperf_put(m, "': expected 1 to 9 decimal digits]");
  utvm_mlperf_end_line(m);
}
static void cmd_db(utvm_mlperf_t* m, const token_t* tok, size_t n) {
  const utvm_mlperf_config_t* c = m->cfg;
  if (n < 2) {
    utvm_mlperf_line(m, "e-[Command 'db' requires a subcommand: load N, print, or hex bytes]");
  } else if (token_is(tok[1], "load")) {
    uint32_t bytes = 0;
    if (n != 3) {
      utvm_mlperf_line(m, "e-[Command 'db load' requires the # of bytes, and nothing more]");
    } else if (!parse_uint(tok[2], &bytes)) {
      bad_number(m, tok[2]);
    } else if (bytes != c->input_bytes) {
      utvm_mlperf_put(m, "e-[db load ");
      utvm_mlperf_put_u64(m, bytes);
      utvm_mlperf_put(m, ": the model's input is ");
      utvm_mlperf_put_u64(m, c->input_bytes);
      utvm_mlperf_put(m, " bytes]");
      utvm_mlperf_end_line(m);
    } else {
      m->expect = bytes;
      m->loaded = 0;
      utvm_mlperf_put(m, "m-[Expecting ");
      utvm_mlperf_put_u64(m, bytes);
      utvm_mlperf_put(m, " bytes]");
      utvm_mlperf_end_line(m);
    }
  } else if (token_is(tok[1], "print")) {
    static const char kHex[] = "0123456789abcdef";
    for (size_t i = 0; i < m->loaded; ++i) {
      char pair[2] = {kHex[c->input[i] >> 4], kHex[c->input[i] & 15u]};
      utvm_mlperf_put(m, i % 8u == 0 ? "m-buffer-" : "-");
      utvm_mlperf_put_n(m, pair, 2);
      if (i % 8u == 7u || i + 1 == m->loaded) utvm_mlperf_end_line(m);
    }
  } else if (n > 2) {
    utvm_mlperf_line(m, "e-[Command 'db' takes one hex string at a time]");
  } else {
    token_t hex = tok[1];
    if (m->expect == 0) {
      utvm_mlperf_line(m, "e-[No load in progress: send db load N first]");
      return;
    }
    if (hex.n % 2u != 0) {
      utvm_mlperf_line(m, "e-[Insufficient number of hex digits]");
      return;
    }
    for (size_t i = 0; i < hex.n; i += 2) {
      if (hex_value(hex.s[i]) < 0 || hex_value(hex.s[i + 1]) < 0) {
        token_t pair = {hex.s + i, 2};
        utvm_mlperf_put(m, "e-[Invalid hex digit '");
        utvm_mlperf_put_token(m, pair.s, pair.n);
        utvm_mlperf_put(m, "']");
        utvm_mlperf_end_line(m);
        return;
      }
    }
    if (hex.n / 2u > m->expect - m->loaded) {
      utvm_mlperf_put(m, "e-[Too many bytes: ");
      utvm_mlperf_put_u64(m, hex.n / 2u);
      utvm_mlperf_put(m, " sent, ");
      utvm_mlperf_put_u64(m, m->expect - m->loaded);
      utvm_mlperf_put(m, " still expected]");
      utvm_mlperf_end_line(m);
      return;
    }
    for (size_t i = 0; i < hex.n; i += 2) {
      c->input[m->loaded++] = (uint8_t)(hex_value(hex.s[i]) << 4 | hex_value(hex.s[i + 1]));
    }
    if (m->loaded == m->expect) utvm_mlperf_line(m, "m-load-done");
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
static void cmd_infer(utvm_mlperf_t* m, const token_t* tok, size_t n) {
  const utvm_mlperf_config_t* c = m->cfg;
  uint32_t runs = 1, warmups = 10;
  if (n > 3) {
    utvm_mlperf_line(m, "e-[Command 'infer' takes N and W, and nothing more]");
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
    utvm_mlperf_line(m, "e-[Inference iterations must be >0]");
    return;
  }
  if (m->expect != c->input_bytes || m->loaded != m->expect) {
    utvm_mlperf_line(m, "e-[No input: send db load N and its bytes first]");
    return;
  }
  utvm_status_t st = c->load(c->ctx, c->input, c->input_bytes);
  if (st != UTVM_OK) {
    error_status(m, "Loading the input failed", st);
    return;
  }
  utvm_mlperf_put(m, "m-warmup-start-");
  utvm_mlperf_put_u64(m, warmups);
  utvm_mlperf_end_line(m);
  if (!run(m, warmups)) return;
  utvm_mlperf_line(m, "m-warmup-done");
  utvm_mlperf_put(m, "m-infer-start-");
  utvm_mlperf_put_u64(m, runs);
  utvm_mlperf_end_line(m);
  utvm_mlperf_lap(m, c->now_us(c->ctx));
  if (!run(m, runs)) return;
  utvm_mlperf_lap(m, c->now_us(c->ctx));
  utvm_mlperf_line(m, "m-infer-done");
  m->has_results = 0;
  st = c->fetch(c->ctx);
  if (st != UTVM_OK) {
    error_status(m, "Reading the outputs failed", st);
    return;
  }
  m->has_results = 1;
  utvm_mlperf_print_results(m);
}

static void help(utvm_mlperf_t* m) {
  utvm_mlperf_line(m, PROFILE);
  utvm_mlperf_line(m, "help         : Print this information");
  utvm_mlperf_line(m, "name         : Print the name of the device");
  utvm_mlperf_line(m, "timestamp    : Generate a timestamp (m-lap-us-N, microseconds)");
  utvm_mlperf_line(m, "db SUBCMD    : Manipulate the input buffer");
  utvm_mlperf_line(m, "  load N     : Expect N bytes (the model's input size)");
  utvm_mlperf_line(m, "  db HH[HH]* : Load 8-bit hex byte(s) until N bytes");
  utvm_mlperf_line(m, "  print      : Print the loaded bytes as hex");
  utvm_mlperf_line(m, "infer N [W=10]: Load input, execute N inferences after W warmup loops");
  utvm_mlperf_line(m, "results      : Return the result vector of the last inference");
}

static void dispatch(utvm_mlperf_t* m) {
  const utvm_mlperf_config_t* c = m->cfg;
  token_t tok[MAX_TOKENS];
  size_t n = 0, i = 0;
  if (m->overflow) {
    utvm_mlperf_put(m, "e-[Command too long: more than ");
    utvm_mlperf_put_u64(m, UTVM_MLPERF_LINE_MAX);
    utvm_mlperf_put(m, " characters]");
    utvm_mlperf_end_line(m);
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
      utvm_mlperf_line(m, "e-[Too many arguments]");
    } else if (n == 0) {
      /* an empty command: the runner's way of flushing a partial one */
    } else if (token_is(tok[0], "name") && n == 1) {
      utvm_mlperf_put(m, "m-name-dut-[");
      utvm_mlperf_put(m, c->device_name);
      utvm_mlperf_put(m, "]");
      utvm_mlperf_end_line(m);
    } else if (token_is(tok[0], "profile") && n == 1) {
      utvm_mlperf_line(m, "m-profile-[" PROFILE "]");
      utvm_mlperf_put(m, "m-model-[");
      utvm_mlperf_put(m, c->model_name);
      utvm_mlperf_put(m, "]");
      utvm_mlperf_end_line(m);
    } else if (token_is(tok[0], "timestamp") && n == 1) {
      utvm_mlperf_lap(m, c->now_us(c->ctx));
    } else if (token_is(tok[0], "help") && n == 1) {
      help(m);
    } else if (token_is(tok[0], "results") && n == 1) {
      if (m->has_results) {
        utvm_mlperf_print_results(m);
      } else {
        utvm_mlperf_line(m, "e-[No results: run infer first]");
      }
    } else if (token_is(tok[0], "db")) {
      cmd_db(m, tok, n);
    } else if (token_is(tok[0], "infer")) {
      cmd_infer(m, tok, n);
    } else if (n > 1 && (token_is(tok[0], "name") || token_is(tok[0], "profile") ||
                         token_is(tok[0], "timestamp") || token_is(tok[0], "help") ||
                         token_is(tok[0], "results"))) {
      utvm_mlperf_put(m, "e-[Command '");
      utvm_mlperf_put_token(m, tok[0].s, tok[0].n);
      utvm_mlperf_put(m, "' takes no arguments]");
      utvm_mlperf_end_line(m);
    } else {
      utvm_mlperf_put(m, "e-[Unknown command: ");
      utvm_mlperf_put_token(m, tok[0].s, tok[0].n);
      utvm_mlperf_put(m, "]");
      utvm_mlperf_end_line(m);
    }
  }
  utvm_mlperf_line(m, "m-ready");
  m->len = 0;
  m->overflow = 0;
}

void utvm_mlperf_init(utvm_mlperf_t* m, const utvm_mlperf_config_t* cfg) {
  memset(m, 0, sizeof(*m));
  m->cfg = cfg;
  utvm_mlperf_line(m, "m-timestamp-mode-performance");
  utvm_mlperf_lap(m, cfg->now_us(cfg->ctx));
  utvm_mlperf_line(m, "m-init-done");
  utvm_mlperf_line(m, "m-ready");
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
