/* Checks of utvm/dsp_blocked.h (matrix product = 1x1 convolution / fully connected, depthwise general
 * and 3x3) on whichever path the compiler selects (Helium, SMLAD or portable) against naive references
 * here (int64 sums wrapped to int32, then utvm_requant_s8, which kernel_check.c checks against exact
 * roundings) and against the portable twin (blocked_twin.c) bit for bit. Random shapes (odd pixel
 * and channel counts, K not a multiple of 4, strides, dilations, padding), random and extreme bytes,
 * per-channel and per-tensor multipliers, biases near the int32 ends. Host (sanitizers) and
 * bare-metal under QEMU. Prints "blocked: N checks, M mismatches (PATH path)". */
#include <stdint.h>

#include "blocked_twin.h"
#include "utvm/dsp_blocked_layers.h"

#include "say.h"

static uint32_t rng = 0x2545F491u;
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}
static int32_t rnd_in(int32_t lo, int32_t hi) { return lo + (int32_t)(rnd() % (uint32_t)(hi - lo + 1)); }

static long checks, mismatches;
static void expect(int32_t got, int32_t want, const char* what, int32_t a, int32_t b) {
  ++checks;
  if (got == want || mismatches++ >= 10) return;
  say(what);
  say(" (");
  say_int(a);
  say(", ");
  say_int(b);
  say("): ");
  say_int(got);
  say(", expected ");
  say_int(want);
  say("\n");
}

static int32_t wrap(int64_t v) { return utvm_blk_s32((uint32_t)(uint64_t)v); }

#define MAXB 6000
static int8_t in[MAXB], w[MAXB], out[MAXB], twin[MAXB];
static int32_t bias[256], mult[256];
static int8_t shift[256];
static _Alignas(4) int16_t scratch[2 * 2048]; /* the tiles read it with LDM */
static int8_t zp_row[1024]; /* UTVM_BLK_DW_SCRATCH of the largest shape here (UTVM_BLK_DW3_BUDGET) */

/* pattern: 0 random, 1 all -128, 2 127 / -128 alternating, 3 -127 / -128 alternating, 4 all 127 */
static void fill(int8_t* p, int32_t n, int pattern) {
  for (int32_t i = 0; i < n; ++i) {
    p[i] = (int8_t)(pattern == 1   ? -128
                    : pattern == 2 ? (i % 2 ? 127 : -128)
                    : pattern == 3 ? (i % 2 ? -128 : -127)
                    : pattern == 4 ? 127
                                   : rnd_in(-128, 127));
  }
}

static utvm_blk_rq_t make_rq(int32_t channels, int pattern) {
  for (int32_t c = 0; c < channels; ++c) {
    bias[c] = pattern == 3 ? (c % 2 ? INT32_MAX - rnd_in(0, 1000) : INT32_MIN + rnd_in(0, 1000)) : rnd_in(-40000, 40000);
    mult[c] = (int32_t)(0x40000000u | (rnd() & 0x3FFFFFFFu));
    shift[c] = (int8_t)rnd_in(-12, 1);
    if (pattern == 2) shift[c] = (int8_t)rnd_in(-31, -2); /* small scales, down to 2^-31 */
    if (pattern == 2 && rnd() % 6 == 0) mult[c] = 0;     /* dead channels */
  }
  utvm_blk_rq_t rq = {mult, shift, (int32_t)(rnd() % 4 != 0), rnd_in(-128, 127), -128, 127};
  if (rnd() % 3 == 0) rq.act_min = rnd_in(-128, 0), rq.act_max = rnd_in(0, 127);
  return rq;
}

static int8_t ref_out(const utvm_blk_rq_t* rq, int64_t sum, int32_t c) {
  int32_t i = rq->per_channel ? c : 0;
  return utvm_requant_s8(wrap(sum), rq->mult[i], rq->shift[i], rq->out_zp, rq->act_min, rq->act_max);
}

static void check_matmul_shape(int32_t pixels, int32_t k, int32_t channels, int in_fill, int w_fill, int pattern) {
  if (pixels * k > MAXB || channels * k > MAXB || pixels * channels > MAXB) return;
  fill(in, pixels * k, in_fill), fill(w, channels * k, w_fill);
  utvm_blk_rq_t rq = make_rq(channels, pattern);
  utvm_blk_matmul_s8(in, pixels, k, w, channels, bias, &rq, scratch, out);
  blocked_twin_matmul(in, pixels, k, w, channels, bias, &rq, scratch, twin);
  for (int32_t p = 0; p < pixels; ++p) {
    for (int32_t c = 0; c < channels; ++c) {
      int64_t sum = bias[c];
      for (int32_t i = 0; i < k; ++i) sum += (int64_t)in[p * k + i] * w[c * k + i];
      expect(out[p * channels + c], ref_out(&rq, sum, c), "matmul", k, p * 1000 + c);
      expect(twin[p * channels + c], out[p * channels + c], "matmul twin", k, p * 1000 + c);
    }
  }
}

static void check_matmul(int pattern) {
  int32_t pixels = rnd_in(1, 9), k = rnd_in(1, 80), channels = rnd_in(1, 40);
  if (rnd() % 8 == 0) k = rnd_in(200, 512), pixels = rnd_in(1, 3);
  check_matmul_shape(pixels, k, channels, pattern % 3, (pattern + 1) % 3, pattern);
}

/* One pixel without scratch (utvm_blk_fc_s8, the batch-1 fully-connected call): k up to 1100, over
 * several of the SMLAD path's runs of UTVM_BLK_RUN k, against the reference and the portable twin. */
static void check_fc_shape(int32_t k, int32_t channels, int in_fill, int w_fill, int pattern) {
  if (k > MAXB || channels * k > MAXB) return;
  fill(in, k, in_fill), fill(w, channels * k, w_fill);
  utvm_blk_rq_t rq = make_rq(channels, pattern);
  utvm_blk_fc_call(in, w, bias, rq.mult, rq.shift, out, k, channels, rq.per_channel, rq.out_zp, rq.act_min,
                   rq.act_max, 0);
  blocked_twin_fc(in, k, w, channels, bias, &rq, twin);
  for (int32_t c = 0; c < channels; ++c) {
    int64_t sum = bias[c];
    for (int32_t i = 0; i < k; ++i) sum += (int64_t)in[i] * w[c * k + i];
    expect(out[c], ref_out(&rq, sum, c), "fc", k, c);
    expect(twin[c], out[c], "fc twin", k, c);
  }
}

static void check_fc(int pattern) {
  int32_t k = rnd() % 4 == 0 ? rnd_in(400, 1100) : rnd_in(1, 200), channels = rnd_in(1, 13);
  check_fc_shape(k, channels, pattern % 3, (pattern + 1) % 3, pattern);
  for (int32_t j = 0; j < 8; ++j) check_fc_shape(500 + j, 5, 1, 1, j % 4); /* the largest sums around a run */
}

/* The packed batch-1 call (utvm_blk_fc_call, packed 1: utvm/dsp_blocked_fcp.h): weights packed by
 * utvm_blk_fcp_pack on the SMLAD path, in file order elsewhere; w_fill 3 (inputs -128) gives the
 * largest scaled sums, over several runs. */
static int8_t packed[MAXB] __attribute__((aligned(8)));
static int32_t packed_bias[256];

static void check_fcp_shape(int32_t k, int32_t channels, int in_fill, int w_fill, int pattern) {
  if (k > MAXB || channels * k > MAXB) return;
  fill(in, k, in_fill), fill(w, channels * k, w_fill);
  for (int32_t i = 0; i < channels * k && w_fill != 3; ++i) w[i] = (int8_t)(w[i] == -128 && rnd() % 8 ? -127 : w[i]);
  utvm_blk_rq_t rq = make_rq(channels, pattern);
  const int32_t ok = utvm_blk_fcp_pack(w, k, channels, bias, packed, packed_bias);
  int32_t unpackable = 0;
  for (int32_t c = 0; c < (channels & ~3); ++c) {
    for (int32_t i = 0; i + 1 < (k & ~3); i += 2) unpackable |= w[c * k + i] == -128 && w[c * k + i + 1] < 0;
  }
  expect(ok, !unpackable, "fcp pack", k, channels);
  if (!ok) return;
  utvm_blk_fc_call(in, UTVM_BLK_FCP_PACKED ? packed : w, UTVM_BLK_FCP_PACKED ? packed_bias : bias, rq.mult,
                   rq.shift, out, k, channels, rq.per_channel, rq.out_zp, rq.act_min, rq.act_max, 1);
  for (int32_t c = 0; c < channels; ++c) {
    int64_t sum = bias[c];
    for (int32_t i = 0; i < k; ++i) sum += (int64_t)in[i] * w[c * k + i];
    expect(out[c], ref_out(&rq, sum, c), "fcp", k, c);
  }
}

static void check_fcp(int pattern) {
  int32_t k = rnd() % 4 == 0 ? rnd_in(300, 1400) : rnd_in(1, 200), channels = rnd_in(1, 13);
  check_fcp_shape(k, channels, pattern % 3, (pattern + 1) % 4, pattern);
  check_fcp_shape(rnd_in(330, 1400), 4 * rnd_in(1, 3), 1, 3, pattern); /* the largest sums, runs of groups */
}

/* The largest sums (every input and weight -128) around 512, where the SMLAD 2x2 tile's sums scaled
 * by 256 (utvm/dsp_blocked_smlad.h) give way to unscaled ones. */
static void check_matmul_extremes(void) {
  for (int32_t k = 504; k <= 519; ++k) check_matmul_shape(2, k, 3, 1, 1, (int)k % 4);
  /* the SMLAL tiles' low field at both ends (utvm/dsp_blocked_smlal.h: runs of 255 k), rows up to
   * the longest the blocked calls take (2048 k: harness.models.compile.blocked.MAX_SCRATCH) */
  for (int32_t k = 250; k <= 262; ++k) {
    check_matmul_shape(2, k, 3, 1, 1, (int)k % 4), check_matmul_shape(2, k, 3, 1, 4, (int)k % 4);
    check_matmul_shape(3, k, 4, 4, 1, 2), check_matmul_shape(2, k, 4, 1, 1, 2);
  }
  for (int32_t k = 1016; k <= 1024; ++k) check_matmul_shape(2, k, 3, 1, (int)k % 2 ? 1 : 4, (int)k % 4);
  for (int32_t k = 2040; k <= 2048; ++k) check_matmul_shape(2, k, 2, 1, (int)k % 2 ? 1 : 4, (int)k % 4);
}

/* Rows the asm of utvm/dsp_blocked_row.h takes (pattern 2: every channel on the short path; the
 * activation range all of int8 two times in three), k from 16 to UTVM_BLK_RUN, the largest sums too. */
static void check_matmul_rows(void) {
  for (int32_t k = 12; k <= 508; k += k < 72 ? 4 : 72) {
    const int32_t most = MAXB / k < 17 ? MAXB / k : 17;
    check_matmul_shape(rnd_in(2, 5), k, rnd_in(2, most), 0, 0, 2);
    check_matmul_shape(2, k, rnd_in(2, most), 1, 1, 2);
  }
}

static void check_dw(int pattern, int three) {
  utvm_blk_dw_shape_t s;
  s.channels = rnd_in(1, 24), s.k_h = three ? 3 : rnd_in(1, 5), s.k_w = three ? 3 : rnd_in(1, 5);
  s.stride_h = rnd_in(1, 2), s.stride_w = rnd_in(1, 2), s.dil_h = rnd() % 5 ? 1 : 2, s.dil_w = rnd() % 5 ? 1 : 2;
  s.in_h = rnd_in(1, 10), s.in_w = rnd_in(1, 10), s.in_zp = rnd_in(-128, 127);
  if (three && rnd() % 4 == 0) { /* planes larger than UTVM_BLK_DW3_BUDGET: bands of rows */
    s.channels = rnd_in(1, 3), s.in_h = rnd_in(20, 44), s.in_w = rnd_in(20, 44);
  }
  s.pad_top = rnd_in(0, s.k_h / 2 * s.dil_h), s.pad_left = rnd_in(0, s.k_w / 2 * s.dil_w);
  int32_t eh = s.in_h + 2 * s.pad_top - (s.k_h - 1) * s.dil_h, ew = s.in_w + 2 * s.pad_left - (s.k_w - 1) * s.dil_w;
  if (eh < 1 || ew < 1) return;
  s.out_h = (eh - 1) / s.stride_h + 1, s.out_w = (ew - 1) / s.stride_w + 1;
  int32_t C = s.channels;
  if (UTVM_BLK_DW_SCRATCH(C, s.out_h, s.out_w, s.stride_h, s.stride_w) > (int32_t)sizeof zp_row) return;
  if (s.in_h * s.in_w * C > MAXB || s.out_h * s.out_w * C > MAXB) return;
  fill(in, s.in_h * s.in_w * C, pattern % 3), fill(w, s.k_h * s.k_w * C, (pattern + 2) % 3);
  utvm_blk_rq_t rq = make_rq(C, pattern);
  if (three) {
    utvm_blk_dw3x3_s8(in, w, bias, &s, &rq, zp_row, out);
  } else {
    utvm_blk_dw_s8(in, w, bias, &s, &rq, zp_row, out);
  }
  if (three) {
    blocked_twin_dw3x3(in, w, bias, &s, &rq, zp_row, twin);
  } else {
    blocked_twin_dw(in, w, bias, &s, &rq, zp_row, twin);
  }
  for (int32_t y = 0; y < s.out_h; ++y) {
    for (int32_t x = 0; x < s.out_w; ++x) {
      for (int32_t c = 0; c < C; ++c) {
        int64_t sum = bias[c];
        for (int32_t ty = 0; ty < s.k_h; ++ty) {
          for (int32_t tx = 0; tx < s.k_w; ++tx) {
            int32_t iy = y * s.stride_h - s.pad_top + ty * s.dil_h, ix = x * s.stride_w - s.pad_left + tx * s.dil_w;
            int32_t v = iy >= 0 && iy < s.in_h && ix >= 0 && ix < s.in_w ? in[(iy * s.in_w + ix) * C + c] : s.in_zp;
            sum += (int64_t)v * w[(ty * s.k_w + tx) * C + c];
          }
        }
        int32_t at = (y * s.out_w + x) * C + c;
        expect(out[at], ref_out(&rq, sum, c), three ? "dw3x3" : "dw", s.k_h * 10 + s.k_w, at);
        expect(twin[at], out[at], "dw twin", s.k_h * 10 + s.k_w, at);
      }
    }
  }
}

static int8_t patch[2 * 2048]; /* two windows of up to 2048 k (harness.models.compile.blocked.MAX_SCRATCH) */

static void check_conv_shape(utvm_blk_conv_shape_t s, int32_t oc, int pattern) {
  int32_t eh = s.in_h + 2 * s.pad_top - (s.k_h - 1) * s.dil_h, ew = s.in_w + 2 * s.pad_left - (s.k_w - 1) * s.dil_w;
  if (eh < 1 || ew < 1) return;
  s.out_h = (eh - 1) / s.stride_h + 1, s.out_w = (ew - 1) / s.stride_w + 1;
  int32_t C = s.in_c, k = s.k_h * s.k_w * C;
  if (s.in_h * s.in_w * C > MAXB || s.out_h * s.out_w * oc > MAXB || k * oc > MAXB) return;
  fill(in, s.in_h * s.in_w * C, pattern % 3), fill(w, k * oc, (pattern + 1) % 3);
  utvm_blk_rq_t rq = make_rq(oc, pattern);
  utvm_blk_conv_s8(in, w, bias, &s, oc, &rq, patch, scratch, out);
  blocked_twin_conv(in, w, bias, &s, oc, &rq, patch, scratch, twin);
  for (int32_t y = 0; y < s.out_h; ++y) {
    for (int32_t x = 0; x < s.out_w; ++x) {
      for (int32_t o = 0; o < oc; ++o) {
        int64_t sum = bias[o];
        for (int32_t ty = 0; ty < s.k_h; ++ty) {
          for (int32_t tx = 0; tx < s.k_w; ++tx) {
            int32_t iy = y * s.stride_h - s.pad_top + ty * s.dil_h, ix = x * s.stride_w - s.pad_left + tx * s.dil_w;
            for (int32_t c = 0; c < C; ++c) {
              int32_t v = iy >= 0 && iy < s.in_h && ix >= 0 && ix < s.in_w ? in[(iy * s.in_w + ix) * C + c] : s.in_zp;
              sum += (int64_t)v * w[((o * s.k_h + ty) * s.k_w + tx) * C + c];
            }
          }
        }
        int32_t at = (y * s.out_w + x) * oc + o;
        expect(out[at], ref_out(&rq, sum, o), "conv", k, at);
        expect(twin[at], out[at], "conv twin", k, at);
      }
    }
  }
}

static void check_conv(int pattern) {
  utvm_blk_conv_shape_t s;
  s.in_c = rnd_in(1, 9), s.k_h = rnd_in(1, 4), s.k_w = rnd_in(1, 4);
  s.stride_h = rnd_in(1, 2), s.stride_w = rnd_in(1, 2), s.dil_h = rnd() % 5 ? 1 : 2, s.dil_w = rnd() % 5 ? 1 : 2;
  s.in_h = rnd_in(1, 9), s.in_w = rnd_in(1, 9), s.in_zp = rnd_in(-128, 127);
  s.pad_top = rnd_in(0, s.k_h / 2 * s.dil_h), s.pad_left = rnd_in(0, s.k_w / 2 * s.dil_w);
  check_conv_shape(s, rnd_in(1, 12), pattern);
}

/* Windows of more than 1024 k (ic02's conv2d_9: 3x3 x 142 channels), up to 2048: input depths a multiple
 * of 4 (each tap widened straight from the input) and not (the gathered window). */
static void check_conv_deep(void) {
  static const int32_t depths[] = {142, 144, 220, 227}; /* k = 9 x depth <= 2048 */
  for (int32_t i = 0; i < 4; ++i) {
    utvm_blk_conv_shape_t s = {4, 3, depths[i], 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, rnd_in(-128, 127)};
    check_conv_shape(s, 2, i % 4);
  }
}

/* The fused requantization (utvm_blk_requant) against utvm_requant_s8 on edge accumulators. */
static void check_requant(void) {
  static const int32_t accs[] = {INT32_MIN, INT32_MIN + 1, -65536, -32769, -129, -3, -2, -1, 0, 1, 2, 3, 127,
                                 65535, INT32_MAX - 1, INT32_MAX};
  for (int32_t j = 0; j < 4000; ++j) {
    int32_t m = j % 7 == 0 ? INT32_MIN : j % 7 == 1 ? INT32_MAX : j % 7 == 2 ? (1 << 30) : utvm_blk_s32(rnd());
    int32_t s = rnd_in(-31, 31), acc = j < 16 * 16 ? accs[j % 16] : utvm_blk_s32(rnd()) >> rnd_in(0, 31);
    if (j % 5 == 0 && s < 0) acc = (int32_t)((rnd() & 0xFFFFu) << (-s - 1)) | 1; /* near a tie */
    expect(utvm_blk_requant_s32(acc, m, s), utvm_requant_s32(acc, m, s), "requant", m, s);
    int32_t x = utvm_blk_s32(rnd()), y = j % 3 ? utvm_blk_s32(rnd()) : INT32_MIN;
    expect(utvm_blk_srdhm(x, y), utvm_srdhm(x, y), "srdhm", x, y);
    /* the depthwise kernels' per-channel form (utvm/dsp_blocked_dw3x3.h), right shifts (a left shift
     * of an extreme accumulator overflows the reference's offset addition) */
    int32_t zp = rnd_in(-128, 127), lo = rnd_in(-128, 0), hi = rnd_in(0, 127);
    int8_t sh = (int8_t)s;
    const utvm_blk_rq_t rq = {&m, &sh, 0, zp, lo, hi};
    const utvm_blk_dw_rq_t q = utvm_blk_dw_rq_make(&rq, j, acc); /* acc as a bias: the fast form within 2^27 */
    if (s < 0) expect(utvm_blk_dw_rq(&q, acc), utvm_requant_s8(acc, m, s, zp, lo, hi), "dw requant", m, s);
  }
}

/* utvm_blk_rq_unpack (utvm/dsp_blocked_rqpack.h) against the tables it was packed from: rows of up to
 * 2100 weights (the SMLAD path's halfword sums flushed every 1020), rows of extreme bytes, strided
 * (depthwise) columns, every shift offset, r at both ends of 15 bits, any zero point. */
static void check_rq_unpack(void) {
  static int16_t half[64];
  static int32_t word[64], got_bias[64], got_mult[64];
  static int8_t got_shift[64];
  for (int32_t round = 0; round < 60; ++round) {
    const int32_t channels = round < 8 ? rnd_in(1, 2) : rnd_in(1, 12), dw = round % 3 == 0;
    const int32_t k = round < 8 ? 2040 + round * 8 : rnd_in(1, dw ? 64 : 500), pattern = round % 5;
    const int32_t base = rnd_in(-31, 20), zp = rnd_in(-128, 127);
    if (channels * k > MAXB) continue;
    fill(w, channels * k, pattern);
    const int32_t cs = dw ? 1 : k, ts = dw ? channels : 1;
    for (int32_t c = 0; c < channels; ++c) {
      const int32_t r = c % 3 == 0 ? (c % 2 ? 16383 : -16384) : rnd_in(-16384, 16383), offset = rnd_in(0, 7);
      const uint32_t m = 0x40000000u | (rnd() & 0x3FFFFFFFu);
      word[c] = utvm_blk_s32((m & 0x3FFFFFFFu) | (uint32_t)(offset & 3) << 30);
      half[c] = (int16_t)(uint16_t)(((uint32_t)r & 0x7FFFu) | (uint32_t)(offset >> 2) << 15);
      int64_t sum = 0;
      for (int32_t t = 0; t < k; ++t) sum += w[c * cs + t * ts];
      bias[c] = wrap((int64_t)r - (int64_t)zp * sum), mult[c] = utvm_blk_s32(m), shift[c] = (int8_t)(base + offset);
    }
    utvm_blk_rq_unpack(half, word, w, base, zp, channels, k, cs, ts, got_bias, got_mult, got_shift);
    for (int32_t c = 0; c < channels; ++c) {
      expect(got_bias[c], bias[c], "rq_unpack bias", k, c);
      expect(got_mult[c], mult[c], "rq_unpack mult", k, c);
      expect(got_shift[c], shift[c], "rq_unpack shift", k, c);
    }
  }
}

int main(void) {
  check_requant();
  check_rq_unpack();
  check_conv_deep();
  check_matmul_extremes();
  for (int32_t i = 0; i < 6; ++i) check_matmul_rows();
  for (int round = 0; round < 400; ++round) {
    check_matmul(round % 4);
    check_fc(round % 4);
    check_fcp(round % 4);
    check_dw(round % 4, 0);
    check_dw(round % 4, 1);
    check_conv(round % 4);
  }
  say("blocked: ");
  say_int(checks);
  say(" checks, ");
  say_int(mismatches);
  say(UTVM_BLK_MVE    ? " mismatches (Helium path)\n"
      : UTVM_BLK_SIMD ? " mismatches (SMLAD path)\n"
      : UTVM_BLK_SMLAL ? " mismatches (SMLAL path)\n"
                      : " mismatches (portable path)\n");
  return mismatches != 0;
}
