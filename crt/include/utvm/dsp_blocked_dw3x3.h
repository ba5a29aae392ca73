/*
 * The 3x3 depthwise layer (dilation 1, any stride and padding) of utvm/dsp_blocked_dw.h, one channel
 * at a time on a padded plane (included from there; the SMLAD and portable paths, Helium has its own).
 *
 * Per channel, its input is copied into a plane of int8 (row stride PW = (out_w - 1) * stride_w + 3,
 * the padding already there: the border columns, the input zero point, are written once per layer;
 * the whole padded input, or bands of rows where it would take more than UTVM_BLK_DW3_BUDGET), its
 * nine weights packed into five registers and its requantization constants computed; then every
 * output reads its three rows from the plane with no bounds check. One word load per row gives four
 * neighbours v0..v3; SXTB16 makes (v0, v2) and SXTB16 ROR #8 (v1, v3), so with the weights packed as
 * (w0, w2) and w1 an output costs per row one SMLAD and one SMLAxy; at stride 1 two outputs share the
 * load and the two SXTB16 (8 instructions per 6 MACs, GCC spending a MOV on the rotation). The weights
 * stay in registers over the channel's outputs.
 *
 * Requantization (utvm_blk_dw_rq), on the channel's sums taken four times: TFLite's double rounding
 * MultiplyByQuantizedMultiplier for a channel with a positive multiplier m and a right shift e of
 * 1..22 (every TFLite per-channel depthwise layer's case) is x = SaturatingRoundingDoublingHighMul(acc,
 * m) = floor((acc * m + 2^30) / 2^31) (no saturation without m = INT32_MIN), then RoundingDivideByPOT
 * q = (x + 2^(e-1) - [x < 0]) >> e. With the weights and the bias times 4 (int16 weights; exact while
 * |acc| < 2^28: the bias within 2^27, nine int8 products within 2^18), h = the high word of (4 acc) * m
 * (SMULL) is floor(acc * m / 2^30), so x = (h + 1) >> 1, and floors by powers of two nest: q + out_zp =
 * (h + 1 + 2^e + out_zp * 2^(e+1) - 2 [x < 0]) >> (e + 1), one ADD of a constant and one ASR (no
 * overflow: |h| < 2^28). [x < 0] may be [acc < 0] (they differ only at x = 0, where both give q = 0),
 * and is not needed where act_min >= out_zp (acc < 0 gives q <= 0 either way, clamped to act_min);
 * then SSAT. Other channels take utvm_blk_requant. blocked_check.c compares both with utvm_requant_s8.
 */
#include "utvm/dsp_blocked_dw.h" /* first: it includes this header where its types are defined */
#ifndef UTVM_DSP_BLOCKED_DW3X3_H_
#define UTVM_DSP_BLOCKED_DW3X3_H_

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The plane holds the whole padded input (PH rows of PW bytes, + 4 for the last word load) where that
 * takes at most UTVM_BLK_DW3_BUDGET bytes, else a band of as many rows as fit (at least 3), refilled
 * per band of output rows (harness.models.compile.blocked.dw_scratch computes the same). */
#define UTVM_BLK_DW3_BUDGET 1000
#define UTVM_BLK_DW3_ROWS(PH, PW)                                                                   \
  ((PH) * (PW) + 4 <= UTVM_BLK_DW3_BUDGET ? (PH)                                                    \
   : (UTVM_BLK_DW3_BUDGET - 4) / (PW) > 3 ? (UTVM_BLK_DW3_BUDGET - 4) / (PW) : 3)
/* Bytes of scratch the plane kernel needs for out_h x out_w outputs at these strides. */
#define UTVM_BLK_DW3X3_PLANE(out_h, out_w, stride_h, stride_w)                                      \
  (UTVM_BLK_DW3_ROWS(((out_h) - 1) * (stride_h) + 3, ((out_w) - 1) * (stride_w) + 3) *                \
       (((out_w) - 1) * (stride_w) + 3) + 4)

/* A channel's requantization: the form above (e >= 2) or utvm_blk_requant (e = 0). */
typedef struct {
  int32_t mult, k, e, fix; /* k = 1 + 2^(e-1) * 2 + out_zp * 2^(e+1); e: the right shift + 1; fix: [acc < 0] */
  int32_t act_min, act_max, c;
  const utvm_blk_rq_t* rq;
} utvm_blk_dw_rq_t;

/* Channel c's requantization, its sums bias + nine int8 products (the form above needs |bias| < 2^27). */
static inline utvm_blk_dw_rq_t utvm_blk_dw_rq_make(const utvm_blk_rq_t* rq, int32_t c, int32_t bias) {
  const int32_t i = rq->per_channel ? c : 0, m = rq->mult[i], shift = rq->shift[i];
  utvm_blk_dw_rq_t q = {m, 0, 0, rq->act_min < rq->out_zp, rq->act_min, rq->act_max, c, rq};
  if (m > 0 && shift <= -1 && shift >= -22 && bias > -(1 << 27) && bias < (1 << 27)) {
    q.e = 1 - shift, q.k = 1 + (1 << (q.e - 1)) + rq->out_zp * (1 << q.e);
  }
  return q;
}

/* One channel's weights: wp[r] = (w[r][0], w[r][2]) as two int16, w1a = (w[0][1], w[1][1]), w1b = w[2][1]. */
typedef struct {
  int32_t wp[3], w1a, w1b;
} utvm_blk_dw3_w_t;

static inline int32_t utvm_blk_dw_pack(int32_t lo, int32_t hi) {
  return utvm_blk_s32((uint32_t)(uint16_t)lo | ((uint32_t)(uint16_t)hi << 16));
}

/* ... times f (1, or 4 for the requantization above). */
static inline utvm_blk_dw3_w_t utvm_blk_dw3_weights(const int8_t* w, int32_t C, int32_t f) {
  utvm_blk_dw3_w_t k;
  for (int32_t r = 0; r < 3; ++r) k.wp[r] = utvm_blk_dw_pack(f * w[(3 * r) * C], f * w[(3 * r + 2) * C]);
  k.w1a = utvm_blk_dw_pack(f * w[C], f * w[4 * C]), k.w1b = f * w[7 * C];
  return k;
}

#if UTVM_BLK_SIMD
/* SXTB16 ROR #8 (utvm_blk_odd; GCC 12 spends a MOV on the rotation). */
static inline int32_t utvm_blk_dw_odd(uint32_t v) { return utvm_blk_odd(v); }

/* Two neighbouring outputs at stride 1 (*a0, *a1 += their taps); p: the first tap of the top row. */
static inline void utvm_blk_dw3_pair(const int8_t* p, int32_t PW, const utvm_blk_dw3_w_t* k, int32_t* a0,
                                     int32_t* a1) {
  uint32_t v = utvm_blk_ld32(p);
  int32_t e = utvm_blk_even(v), o = utvm_blk_dw_odd(v);
  int32_t s0 = __smlabb(o, k->w1a, __smlad(e, k->wp[0], *a0)), s1 = __smlatb(e, k->w1a, __smlad(o, k->wp[0], *a1));
  v = utvm_blk_ld32(p + PW), e = utvm_blk_even(v), o = utvm_blk_dw_odd(v);
  s0 = __smlabt(o, k->w1a, __smlad(e, k->wp[1], s0)), s1 = __smlatt(e, k->w1a, __smlad(o, k->wp[1], s1));
  v = utvm_blk_ld32(p + 2 * PW), e = utvm_blk_even(v), o = utvm_blk_dw_odd(v);
  *a0 = __smlabb(o, k->w1b, __smlad(e, k->wp[2], s0)), *a1 = __smlatb(e, k->w1b, __smlad(o, k->wp[2], s1));
}

/* Two neighbouring outputs at stride 2: words at p and p + 2 give (v0, v2), (v1, v3), (v2, v4); the
 * middle taps v1 and v3 come from the one (v1, v3). */
static inline void utvm_blk_dw3_pair2(const int8_t* p, int32_t PW, const utvm_blk_dw3_w_t* k, int32_t* a0,
                                      int32_t* a1) {
  uint32_t v = utvm_blk_ld32(p), u = utvm_blk_ld32(p + 2);
  int32_t o = utvm_blk_dw_odd(v);
  int32_t s0 = __smlabb(o, k->w1a, __smlad(utvm_blk_even(v), k->wp[0], *a0));
  int32_t s1 = __smlatb(o, k->w1a, __smlad(utvm_blk_even(u), k->wp[0], *a1));
  v = utvm_blk_ld32(p + PW), u = utvm_blk_ld32(p + PW + 2), o = utvm_blk_dw_odd(v);
  s0 = __smlabt(o, k->w1a, __smlad(utvm_blk_even(v), k->wp[1], s0));
  s1 = __smlatt(o, k->w1a, __smlad(utvm_blk_even(u), k->wp[1], s1));
  v = utvm_blk_ld32(p + 2 * PW), u = utvm_blk_ld32(p + 2 * PW + 2), o = utvm_blk_dw_odd(v);
  *a0 = __smlabb(o, k->w1b, __smlad(utvm_blk_even(v), k->wp[2], s0));
  *a1 = __smlatb(o, k->w1b, __smlad(utvm_blk_even(u), k->wp[2], s1));
}

/* One output (any stride). */
static inline int32_t utvm_blk_dw3_one(const int8_t* p, int32_t PW, const utvm_blk_dw3_w_t* k, int32_t acc) {
  uint32_t v = utvm_blk_ld32(p);
  acc = __smlabb(utvm_blk_dw_odd(v), k->w1a, __smlad(utvm_blk_even(v), k->wp[0], acc));
  v = utvm_blk_ld32(p + PW);
  acc = __smlabt(utvm_blk_dw_odd(v), k->w1a, __smlad(utvm_blk_even(v), k->wp[1], acc));
  v = utvm_blk_ld32(p + 2 * PW);
  return __smlabb(utvm_blk_dw_odd(v), k->w1b, __smlad(utvm_blk_even(v), k->wp[2], acc));
}
#else
/* Row r's three taps at p (wrapping products). */
static inline uint32_t utvm_blk_dw3_row(const int8_t* p, const utvm_blk_dw3_w_t* k, int32_t r) {
  const int32_t w0 = (int16_t)(uint16_t)(uint32_t)k->wp[r], w2 = (int32_t)k->wp[r] >> 16;
  const int32_t w1 = r == 0 ? (int16_t)(uint16_t)(uint32_t)k->w1a : r == 1 ? (int32_t)k->w1a >> 16 : k->w1b;
  return utvm_blk_mul(p[0], w0) + utvm_blk_mul(p[1], w1) + utvm_blk_mul(p[2], w2);
}

static inline int32_t utvm_blk_dw3_one(const int8_t* p, int32_t PW, const utvm_blk_dw3_w_t* k, int32_t acc) {
  return utvm_blk_s32((uint32_t)acc + utvm_blk_dw3_row(p, k, 0) + utvm_blk_dw3_row(p + PW, k, 1) +
                      utvm_blk_dw3_row(p + 2 * PW, k, 2));
}

static inline void utvm_blk_dw3_pair(const int8_t* p, int32_t PW, const utvm_blk_dw3_w_t* k, int32_t* a0,
                                     int32_t* a1) {
  *a0 = utvm_blk_dw3_one(p, PW, k, *a0), *a1 = utvm_blk_dw3_one(p + 1, PW, k, *a1);
}

static inline void utvm_blk_dw3_pair2(const int8_t* p, int32_t PW, const utvm_blk_dw3_w_t* k, int32_t* a0,
                                      int32_t* a1) {
  *a0 = utvm_blk_dw3_one(p, PW, k, *a0), *a1 = utvm_blk_dw3_one(p + 2, PW, k, *a1);
}
#endif

/* Channel c's input into the band of the plane that starts at plane row p0 (input row p0 - pad_top):
 * its rows n, columns q0..q1 (the others keep the zero point written once per layer); rows outside
 * the input all zero point (unless whole: the band is the plane, where they never change). Four
 * bytes per word store. */
static inline void utvm_blk_dw3_fill(const int8_t* in, const utvm_blk_dw_shape_t* s, int32_t c, int32_t PW,
                                     int32_t p0, int32_t rows, int32_t q0, int32_t q1, int32_t whole,
                                     int8_t* band) {
  const int32_t C = s->channels, n = q1 - q0;
  for (int32_t r = 0; r < rows; ++r) {
    const int32_t iy = p0 + r - s->pad_top;
    int8_t* dst = band + r * PW + q0;
    if (iy < 0 || iy >= s->in_h) {
      if (!whole) memset(band + r * PW, s->in_zp, (size_t)PW);
      continue;
    }
    const int8_t* src = in + (iy * s->in_w + (q0 - s->pad_left)) * C + c;
    int32_t q = 0;
    for (; q + 4 <= n; q += 4, src += 4 * C) {
      const uint32_t v = (uint32_t)(uint8_t)src[0] | (uint32_t)(uint8_t)src[C] << 8 |
                         (uint32_t)(uint8_t)src[2 * C] << 16 | (uint32_t)(uint8_t)src[3 * C] << 24;
      memcpy(dst + q, &v, sizeof v);
    }
    for (; q < n; ++q, src += C) dst[q] = *src;
  }
}

#define UTVM_BLK_DW3_CHUNK 64 /* sums kept (on the stack) before they are requantized */

/* One sum a4 (taken four times) requantized (see above); clamp = 0 where [lo, hi] is all of int8. */
static inline int8_t utvm_blk_dw3_rq2(int32_t a4, int32_t mult, int32_t k, int32_t e, int32_t fix, int32_t lo,
                                      int32_t hi, int32_t clamp) {
  int32_t y = (int32_t)(((int64_t)a4 * mult) >> 32) + k; /* SMULL (its high word), ADD */
  if (fix) y -= (int32_t)((uint32_t)a4 >> 31) * 2;
  int32_t v = y >> e; /* arithmetic shifts (GCC, Clang) */
#if UTVM_BLK_SIMD
  v = __ssat(v, 8);
  if (clamp) v = v < lo ? lo : v > hi ? hi : v;
#else
  (void)clamp; /* [lo, hi] lies in int8 */
  v = v < lo ? lo : v > hi ? hi : v;
#endif
  return (int8_t)v;
}

/* One sum (|acc| < 2^28 where q->e > 0) of channel q->c requantized as the kernel does it: the
 * form, else utvm_blk_requant. */
static inline int8_t utvm_blk_dw_rq(const utvm_blk_dw_rq_t* q, int32_t acc) {
  if (q->e == 0) return utvm_blk_requant(q->rq, acc, q->c);
  return utvm_blk_dw3_rq2(utvm_blk_s32((uint32_t)acc * 4u), q->mult, q->k, q->e, q->fix, q->act_min, q->act_max, 1);
}

/* Sums acc[0..n) (taken four times; n a multiple of 4) requantized into o[0], o[C], ..., four per pass
 * (r: mult, k, e, act_min, act_max, copied out of the channel's utvm_blk_dw_rq_t, which the byte
 * stores could alias; fix and clamp literals). */
static inline void utvm_blk_dw3_rq_run(const int32_t* acc, int32_t n, int8_t* o, int32_t C, const int32_t* r,
                                       int32_t fix, int32_t clamp) {
  const int32_t m = r[0], k = r[1], e = r[2], lo = r[3], hi = r[4];
  for (const int32_t* end = acc + n; acc != end; acc += 4, o += 4 * C) {
    const int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    o[0] = utvm_blk_dw3_rq2(a0, m, k, e, fix, lo, hi, clamp), o[C] = utvm_blk_dw3_rq2(a1, m, k, e, fix, lo, hi, clamp);
    o[2 * C] = utvm_blk_dw3_rq2(a2, m, k, e, fix, lo, hi, clamp);
    o[3 * C] = utvm_blk_dw3_rq2(a3, m, k, e, fix, lo, hi, clamp);
  }
}

/* n sums (taken four times) requantized into o[0], o[C], ... (outputs of one channel are C bytes apart); called
 * out of line (through utvm_blk_dw3_fast_call), so that its constants get registers of their own. */
static void utvm_blk_dw3_fast(const int32_t* acc, int32_t n, const utvm_blk_dw_rq_t* q, int8_t* o, int32_t C) {
  const int32_t r[5] = {q->mult, q->k, q->e, q->act_min, q->act_max}, fix = q->fix;
  const int32_t n4 = n & ~3, clamp = r[3] > -128 || r[4] < 127;
  if (fix) {
    if (clamp) {
      utvm_blk_dw3_rq_run(acc, n4, o, C, r, 1, 1);
    } else {
      utvm_blk_dw3_rq_run(acc, n4, o, C, r, 1, 0);
    }
  } else if (clamp) {
    utvm_blk_dw3_rq_run(acc, n4, o, C, r, 0, 1);
  } else {
    utvm_blk_dw3_rq_run(acc, n4, o, C, r, 0, 0);
  }
  for (int32_t i = n4; i < n; ++i) o[i * C] = utvm_blk_dw3_rq2(acc[i], r[0], r[1], r[2], fix, r[3], r[4], 1);
}

/* A volatile pointer: ISO C has no way to say "not inlined". */
static void (*const volatile utvm_blk_dw3_fast_call)(const int32_t*, int32_t, const utvm_blk_dw_rq_t*, int8_t*,
                                                     int32_t) = utvm_blk_dw3_fast;

static inline void utvm_blk_dw3_store(const int32_t* acc, int32_t n, const utvm_blk_dw_rq_t* q, int8_t* o,
                                      int32_t C) {
  if (q->e > 0) {
    utvm_blk_dw3_fast_call(acc, n, q, o, C);
    return;
  }
  for (int32_t i = 0; i < n; ++i, o += C) *o = utvm_blk_requant(q->rq, acc[i], q->c);
}

/* n outputs of one row (the first reads row[0..]) into acc. */
/* The row loops are kept rolled, and their iterations apart (a compiler barrier after each pair's
 * stores): unrolled (GCC does it where n is a small constant), the loads are hoisted and the sums
 * spill to the stack. */
#define UTVM_BLK_DW3_ROLLED _Pragma("GCC unroll 1") /* (GCC and clang) */
#define UTVM_BLK_DW3_APART() atomic_signal_fence(memory_order_seq_cst) /* a compiler barrier (ISO C11) */

static inline void utvm_blk_dw3_run(const int8_t* row, int32_t PW, int32_t sw, int32_t n, const utvm_blk_dw3_w_t* k,
                                    int32_t b, int32_t* acc) {
  int32_t* const end = acc + (n & ~1); /* pointers stepped, no index: one register fewer in the loop */
  if (sw == 1) {
    UTVM_BLK_DW3_ROLLED
    for (; acc != end; acc += 2, row += 2) {
      int32_t a0 = b, a1 = b;
      utvm_blk_dw3_pair(row, PW, k, &a0, &a1);
      acc[0] = a0, acc[1] = a1;
      UTVM_BLK_DW3_APART();
    }
  } else if (sw == 2) {
    UTVM_BLK_DW3_ROLLED
    for (; acc != end; acc += 2, row += 4) {
      int32_t a0 = b, a1 = b;
      utvm_blk_dw3_pair2(row, PW, k, &a0, &a1);
      acc[0] = a0, acc[1] = a1;
      UTVM_BLK_DW3_APART();
    }
  } else {
    UTVM_BLK_DW3_ROLLED
    for (; acc != end; acc += 2, row += 2 * sw) {
      acc[0] = utvm_blk_dw3_one(row, PW, k, b), acc[1] = utvm_blk_dw3_one(row + sw, PW, k, b);
    }
  }
  if (n & 1) acc[0] = utvm_blk_dw3_one(row, PW, k, b);
}

/* The layer (s->k_h == s->k_w == 3, dil_h == dil_w == 1); plane: UTVM_BLK_DW3X3_PLANE bytes. Per
 * channel and band of output rows, the band filled, then the sums of up to UTVM_BLK_DW3_CHUNK outputs
 * (whole rows where they fit, else pieces of one), then their requantization (two loops, each with
 * its constants in registers). A statement macro, so that a layer's call (UTVM_BLK_DW_CALL of
 * utvm/dsp_blocked_layers.h, which the generated kernels expand in place) has the loops with its
 * literal shapes from the start: a function shared by a model's layers, or inlined late, runs about a
 * third more instructions; utvm_blk_dw3x3_plane_s8 is the same as a function. */
#define UTVM_BLK_DW3_PLANE(in, w, bias, s, rq, plane, out)                                                             \
  do {                                                                                                                 \
    const int32_t C_ = (s)->channels, sh_ = (s)->stride_h, sw_ = (s)->stride_w, oh_ = (s)->out_h;                      \
    const int32_t ow_ = (s)->out_w, PW_ = (ow_ - 1) * sw_ + 3, PH_ = (oh_ - 1) * sh_ + 3;                              \
    const int32_t band_ = (UTVM_BLK_DW3_ROWS(PH_, PW_) - 3) / sh_ + 1;                                                 \
    const int32_t q0_ = (s)->pad_left < PW_ ? (s)->pad_left : PW_;                                                     \
    const int32_t q1_ = (s)->pad_left + (s)->in_w < PW_ ? (s)->pad_left + (s)->in_w : PW_;                             \
    const int32_t rows_ = ow_ <= UTVM_BLK_DW3_CHUNK ? UTVM_BLK_DW3_CHUNK / ow_ : 1;                                    \
    const int32_t piece_ = ow_ < UTVM_BLK_DW3_CHUNK ? ow_ : UTVM_BLK_DW3_CHUNK;                                        \
    int32_t acc_[UTVM_BLK_DW3_CHUNK];                                                                                  \
    memset((plane), (s)->in_zp, (size_t)(UTVM_BLK_DW3_ROWS(PH_, PW_) * PW_ + 4));                                      \
    for (int32_t c_ = 0; c_ < C_; ++c_) {                                                                              \
      const utvm_blk_dw_rq_t q_ = utvm_blk_dw_rq_make((rq), c_, (bias)[c_]);                                           \
      const int32_t f_ = q_.e > 0 ? 4 : 1, b_ = (int32_t)((uint32_t)(bias)[c_] * (uint32_t)f_);                        \
      const utvm_blk_dw3_w_t k_ = utvm_blk_dw3_weights((w) + c_, C_, f_);                                              \
      for (int32_t yb_ = 0; yb_ < oh_; yb_ += band_) {                                                                 \
        const int32_t nb_ = oh_ - yb_ < band_ ? oh_ - yb_ : band_;                                                     \
        utvm_blk_dw3_fill((in), (s), c_, PW_, yb_ * sh_, (nb_ - 1) * sh_ + 3, q0_, q1_, band_ >= oh_, (plane));        \
        for (int32_t y0_ = 0; y0_ < nb_; y0_ += rows_) {                                                               \
          const int32_t ny_ = nb_ - y0_ < rows_ ? nb_ - y0_ : rows_;                                                   \
          for (int32_t x0_ = 0; x0_ < ow_; x0_ += piece_) {                                                            \
            const int32_t n_ = ow_ - x0_ < piece_ ? ow_ - x0_ : piece_;                                                \
            for (int32_t j_ = 0; j_ < ny_; ++j_) {                                                                     \
              utvm_blk_dw3_run((plane) + (y0_ + j_) * sh_ * PW_ + x0_ * sw_, PW_, sw_, n_, &k_, b_, acc_ + j_ * n_);   \
            }                                                                                                          \
            utvm_blk_dw3_store(acc_, ny_ * n_, &q_, (out) + ((yb_ + y0_) * ow_ + x0_) * C_ + c_, C_);                  \
          }                                                                                                            \
        }                                                                                                              \
      }                                                                                                                \
    }                                                                                                                  \
  } while (0)

static inline int32_t utvm_blk_dw3x3_plane_s8(const int8_t* in, const int8_t* w, const int32_t* bias,
                                              const utvm_blk_dw_shape_t* s, const utvm_blk_rq_t* rq,
                                              int8_t* plane, int8_t* out) {
  UTVM_BLK_DW3_PLANE(in, w, bias, s, rq, plane, out);
  return 0;
}

#ifdef __cplusplus
}
#endif
#endif /* UTVM_DSP_BLOCKED_DW3X3_H_ */
