/* Checks of the micro-kernels of utvm/dsp.h (dot products, depthwise MAC) and utvm/requant.h
 * (requantization), on whichever path the compiler selects (Helium, SMLAD, portable), against
 * references written here in int64 from the definitions: naive sums wrapped to int32, and gemmlowp's
 * SaturatingRoundingDoublingHighMul / RoundingDivideByPOT as exact roundings. On Helium the vector
 * requantization is also compared lane by lane with the scalar twin. Data: random bytes and the int8
 * extremes, lengths 0..64 and longer, every operand alignment, sums that wrap; requantization on edge
 * accumulators (each rounding tie at every shift), multipliers (0, 2^30, INT32_MAX, INT32_MIN, ...),
 * shifts -31..31, output offsets -128..127. Runs on the host (under sanitizers) and bare-metal under
 * QEMU (bm_startup.c, -DUTVM_BAREMETAL). Prints "kernels: N checks, M mismatches (PATH path)". */
#include <stdint.h>

#include "utvm/dsp.h"
#include "utvm/requant.h"

#include "say.h"

static uint32_t rng = 0x9E3779B9u;
static uint32_t rnd(void) { /* xorshift32 */
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}
static int32_t rnd_s32(void) { return utvm_dsp_s32(rnd()); }
static int8_t rnd_s8(void) { return (int8_t)((int32_t)(rnd() >> 24) - 128); }

static long checks, mismatches;
static void expect(int64_t got, int64_t want, const char* what, int32_t p0, int32_t p1, int32_t p2) {
  ++checks;
  if (got == want || mismatches++ >= 10) return;
  say(what);
  say(" (");
  say_int(p0);
  say(", ");
  say_int(p1);
  say(", ");
  say_int(p2);
  say("): ");
  say_int(got);
  say(", expected ");
  say_int(want);
  say("\n");
}

static int32_t wrap(int64_t v) { return utvm_dsp_s32((uint32_t)(uint64_t)v); }
static const int32_t ACCS[4] = {INT32_MAX - 3000, INT32_MIN + 3000, 0, -77777};

/* Fill with pattern 0: random, 1: all -128, 2: -128 and 127 alternating, 3: all 127. */
static void fill(int8_t* p, int32_t n, int pattern) {
  for (int32_t i = 0; i < n; ++i) {
    p[i] = (int8_t)(pattern == 0 ? rnd_s8() : pattern == 1 ? -128 : pattern == 2 ? (i % 2 ? 127 : -128) : 127);
  }
}

/* ---- dot products ---- */
#define DOT_MAX_N 300
static int8_t dot_a[DOT_MAX_N + 4];
static int8_t dot_b[4 + 3 * (DOT_MAX_N + 4) + DOT_MAX_N];

static int32_t naive_dot(const int8_t* a, const int8_t* b, int32_t n, int32_t acc) {
  int64_t sum = acc;
  for (int32_t i = 0; i < n; ++i) sum += (int64_t)a[i] * b[i];
  return wrap(sum);
}

static void check_dot(int32_t n, int32_t k) {
  const int8_t* a = dot_a + k % 4;
  const int8_t* b = dot_b + (k / 4) % 4;
  int32_t stride = n + k % 5, acc = k % 5 == 4 ? rnd_s32() : ACCS[k % 4];
  int32_t two[2] = {acc, acc - 1}, four[4] = {acc, acc + 1, acc + 2, acc + 3};
  expect(utvm_dot_s8(a, b, n, acc), naive_dot(a, b, n, acc), "dot_s8", n, k, acc);
  utvm_dot_s8_x2(a, b, stride, n, two);
  utvm_dot_s8_x4(a, b, stride, n, four);
  for (int32_t r = 0; r < 2; ++r) expect(two[r], naive_dot(a, b + r * stride, n, acc - r), "dot_s8_x2", n, k, r);
  for (int32_t r = 0; r < 4; ++r) expect(four[r], naive_dot(a, b + r * stride, n, acc + r), "dot_s8_x4", n, k, r);
}

static void check_dots(void) {
  static const int32_t longer[] = {79, 96, 127, 128, 129, 255, 256, 257, DOT_MAX_N};
  for (int pattern = 0; pattern < 6; ++pattern) {
    fill(dot_a, (int32_t)sizeof dot_a, pattern < 4 ? pattern : 0);
    fill(dot_b, (int32_t)sizeof dot_b, pattern < 4 ? (pattern == 2 ? 1 : pattern) : 0);
    for (int32_t n = 0; n <= 64; ++n) {
      for (int32_t k = 0; k < 20; k += 1 + pattern % 3) check_dot(n, k + n);
    }
    for (unsigned j = 0; j < sizeof longer / sizeof longer[0]; ++j) {
      for (int32_t k = 0; k < 8; ++k) check_dot(longer[j], k * 3 + (int32_t)j);
    }
  }
}

/* ---- depthwise ---- */
#define DW_MAX_C 70
static int8_t dw_in[5 * 6 * (DW_MAX_C + 2)], dw_w[5 * 5 * (DW_MAX_C + 2)];
static int32_t dw_acc[DW_MAX_C + 1];

static void check_dw(int32_t channels, int32_t kh, int32_t kw, int32_t k) {
  int32_t in_col = channels + k % 3, in_row = 6 * in_col + k % 2, w_col = channels + (k / 3) % 2;
  int32_t w_row = kw * w_col, want[DW_MAX_C];
  for (int32_t c = 0; c < channels; ++c) {
    int64_t sum = dw_acc[c] = k % 4 == 0 ? ACCS[c % 2] : rnd_s32();
    for (int32_t y = 0; y < kh; ++y) {
      for (int32_t x = 0; x < kw; ++x) sum += (int64_t)dw_in[y * in_row + x * in_col + c] * dw_w[y * w_row + x * w_col + c];
    }
    want[c] = wrap(sum);
  }
  dw_acc[channels] = 0x5A5A5A5A; /* the element after the tile stays as it is */
  utvm_dw_mac_s8(dw_in, in_col, in_row, dw_w, w_col, w_row, kh, kw, channels, dw_acc);
  for (int32_t c = 0; c < channels; ++c) expect(dw_acc[c], want[c], "dw_mac_s8", channels, kh * 10 + kw, c);
  expect(dw_acc[channels], 0x5A5A5A5A, "dw_mac_s8 past the end", channels, kh * 10 + kw, channels);
}

static void check_dws(void) {
  static const int32_t taps[][2] = {{1, 1}, {3, 3}, {1, 5}, {5, 5}, {2, 3}};
  for (int pattern = 0; pattern < 5; ++pattern) {
    fill(dw_in, (int32_t)sizeof dw_in, pattern < 4 ? pattern : 0);
    fill(dw_w, (int32_t)sizeof dw_w, pattern == 2 ? 1 : pattern < 4 ? pattern : 0);
    for (int32_t channels = 0; channels <= DW_MAX_C; ++channels) {
      for (int32_t t = 0; t < 5; ++t) check_dw(channels, taps[t][0], taps[t][1], channels + t + pattern);
    }
  }
}

/* ---- requantization ---- */
/* round(2ab / 2^32), halves up; INT32_MIN * INT32_MIN saturates. */
static int32_t ref_srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  int64_t twice = 2 * (int64_t)a * b + ((int64_t)1 << 31);
  return (int32_t)(twice >= 0 ? twice / ((int64_t)1 << 32) : -((-twice + ((int64_t)1 << 32) - 1) >> 32));
}

/* x / 2^e rounded to nearest, halves away from zero. */
static int32_t ref_rdbp(int32_t x, int32_t e) {
  if (e == 0) return x;
  int64_t mag = x < 0 ? -(int64_t)x : x, q = (mag + ((int64_t)1 << (e - 1))) >> e;
  return (int32_t)(x < 0 ? -q : q);
}

static int32_t ref_requant(int32_t x, int32_t m, int32_t s) {
  int32_t shifted = wrap((int64_t)x * ((int64_t)1 << (s > 0 ? s : 0)));
  return ref_rdbp(ref_srdhm(shifted, m), s > 0 ? 0 : -s);
}

#define RQ_MAX_ACCS 320
static int32_t rq_accs[RQ_MAX_ACCS];

static int32_t edge_accs(void) {
  static const int32_t fixed[] = {INT32_MIN, INT32_MIN + 1, -65537, -65536, -32769, -129, -128, -3, -2, -1,
                                  0, 1, 2, 3, 127, 128, 65535, 65536, INT32_MAX - 1, INT32_MAX};
  int32_t n = 0;
  for (unsigned i = 0; i < sizeof fixed / sizeof fixed[0]; ++i) rq_accs[n++] = fixed[i];
  for (int32_t e = 1; e < 31; ++e) { /* each rounding tie of a division by 2^e, and its neighbours */
    int32_t half = (int32_t)1 << (e - 1), tie = half + ((e < 30) ? ((int32_t)1 << e) : 0);
    rq_accs[n++] = half;
    rq_accs[n++] = -half;
    rq_accs[n++] = tie;
    rq_accs[n++] = -tie;
    rq_accs[n++] = tie + 1;
    rq_accs[n++] = -tie - 1;
    rq_accs[n++] = tie - 1;
    rq_accs[n++] = 1 - tie;
    rq_accs[n++] = rnd_s32() >> (rnd() % 31);
  }
  return n;
}

/* The vector requantization (Helium) against the scalar one on four lanes. */
static void check_lanes(const int32_t* x, const int32_t* m, const int32_t* s) {
#if UTVM_REQUANT_MVE
  int32_t got[4];
  vstrwq_s32(got, utvm_mve_requant_s32x4(vldrwq_s32(x), vldrwq_s32(m), vldrwq_s32(s)));
  for (int i = 0; i < 4; ++i) expect(got[i], utvm_requant_s32(x[i], m[i], s[i]), "mve_requant_s32x4", x[i], m[i], s[i]);
#else
  (void)x, (void)m, (void)s;
#endif
}

static void check_requant_edges(void) {
  const int32_t mults[] = {0, 1, 1 << 30, (1 << 30) + 1, 1518500250, 1895147668, INT32_MAX, INT32_MIN,
                           -1, -(1 << 30), (int32_t)((rnd() | 0x40000000u) & 0x7FFFFFFFu), rnd_s32()};
  int32_t n = edge_accs();
  for (unsigned j = 0; j < sizeof mults / sizeof mults[0]; ++j) {
    for (int32_t s = -31; s <= 31; ++s) {
      for (int32_t i = 0; i < n; ++i) {
        int32_t x = rq_accs[i];
        expect(utvm_requant_s32(x, mults[j], s), ref_requant(x, mults[j], s), "requant_s32", x, mults[j], s);
      }
      for (int32_t i = 0; i + 4 <= n; i += 4) {
        int32_t m[4] = {mults[j], mults[j], mults[j], mults[j]}, sh[4] = {s, s, s, s};
        check_lanes(rq_accs + i, m, sh);
      }
    }
  }
}

static void check_requant_random(void) {
  for (int32_t i = 0; i < 20000; ++i) {
    int32_t x[4], m[4], s[4];
    for (int l = 0; l < 4; ++l) {
      x[l] = rnd_s32() >> (rnd() % 32);
      m[l] = i % 3 ? (int32_t)((rnd() | 0x40000000u) & 0x7FFFFFFFu) : rnd_s32(); /* TFLite's: [2^30, 2^31) */
      s[l] = (int32_t)(rnd() % 63) - 31;
      expect(utvm_requant_s32(x[l], m[l], s[l]), ref_requant(x[l], m[l], s[l]), "requant_s32 random", x[l],
             m[l], s[l]);
    }
    check_lanes(x, m, s);
  }
}

/* utvm_requant_s32x4 and utvm_requant_s8_n (tails of 1..15) against utvm_requant_s8, every offset. */
static void check_requant_outputs(void) {
  int32_t x[16], m[16], s[16];
  int8_t four[4], got[17];
  for (int32_t offset = -128; offset <= 127; ++offset) {
    int32_t lo = offset % 3 == 0 ? -128 : (int32_t)(rnd() % 128) - 128;
    int32_t hi = offset % 5 == 0 ? 127 : lo + (int32_t)(rnd() % (uint32_t)(128 - lo));
    int32_t n = 1 + (offset + 128) % 16;
    for (int l = 0; l < 16; ++l) {
      x[l] = rnd_s32() >> (8 + rnd() % 20);
      m[l] = (int32_t)((rnd() | 0x40000000u) & 0x7FFFFFFFu);
      s[l] = (int32_t)(rnd() % 24) - 16;
    }
    got[n] = 0x55;
    utvm_requant_s8_n(x, m, s, offset, lo, hi, n, got);
    utvm_requant_s32x4(x, m, s, offset, lo, hi, four);
    for (int32_t l = 0; l < n; ++l) {
      expect(got[l], utvm_requant_s8(x[l], m[l], s[l], offset, lo, hi), "requant_s8_n", n, offset, l);
    }
    expect(got[n], 0x55, "requant_s8_n past the end", n, offset, n);
    for (int l = 0; l < 4; ++l) {
      int8_t want = utvm_requant_s8(x[l], m[l], s[l], offset, lo, hi);
      int32_t v = ref_requant(x[l], m[l], s[l]) + offset;
      expect(four[l], want, "requant_s32x4", x[l], offset, l);
      expect(want, v < lo ? lo : v > hi ? hi : v, "requant_s8", x[l], offset, l);
    }
  }
}

int main(void) {
  check_dots();
  check_dws();
  check_requant_edges();
  check_requant_random();
  check_requant_outputs();
  say("kernels: ");
  say_int(checks);
  say(" checks, ");
  say_int(mismatches);
  say(UTVM_DSP_MVE ? " mismatches (Helium path)\n" : UTVM_DSP_SIMD ? " mismatches (SMLAD path)\n"
                                                                   : " mismatches (portable path)\n");
  return mismatches ? 1 : 0;
}
