"""gemmlowp's fixed-point arithmetic and TFLite's requantization as TIR expressions.

Every function takes and returns int32 PrimExprs (Python ints are accepted for constants)
and computes bit for bit what gemmlowp/fixedpoint.h and tensorflow/lite/kernels/internal/
common.h compute in C++: SaturatingRoundingDoublingHighMul, RoundingDivideByPOT,
MultiplyByQuantizedMultiplier (double rounding), exp_on_negative_values,
one_over_one_plus_x_for_x_in_0_1, one_minus_x_over_one_plus_x_for_x_in_0_1, logistic and
tanh. int64 appears only inside the doubling high multiply and the rounding half sum;
divisions are written as shifts, so the C has no division and no float. Shared operands
are bound with Let (`let`); scalars.py turns those bindings into one-element buffers once
TE has made the PrimFunc.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tvm import tirx

Expr = Any  # a tvm PrimExpr or a Python int
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def i32(value: Expr) -> Any:
    return tirx.const(value, "int32") if isinstance(value, int) else value


def i64(value: Expr) -> Any:
    return tirx.const(value, "int64") if isinstance(value, int) else value.astype("int64")


def select(cond: Any, then: Expr, other: Expr) -> Any:
    return tirx.Select(cond, i32(then), i32(other))


def dtype_of(expr: Any) -> str:
    """A PrimExpr's dtype (`ty` in TVM 0.27, `dtype` before)."""
    dtype = getattr(expr, "dtype", None)
    return str(dtype if dtype is not None else expr.ty)


def let(value: Expr, body: Callable[[Any], Any], name: str = "t") -> Any:
    """body(v) with v bound once to value: the expressions here use their operands several
    times, and without a binding each use copies the whole operand tree (exponentially, as
    the functions nest)."""
    if isinstance(value, int | tirx.IntImm | tirx.Var):
        return body(value)
    var = tirx.Var(name, dtype_of(value))
    return tirx.Let(var, value, body(var))


def srdhm(a: Expr, b: Expr) -> Any:
    """SaturatingRoundingDoublingHighMul: round(a * b / 2^31).

    gemmlowp saturates the one overflowing case a == b == INT32_MIN to INT32_MAX. No caller
    can reach it (one operand is always a constant, a requantization multiplier >= 0, or a
    positive value), and TVM's simplifier folds that branch away anyway, so it is left out."""

    def high(nudged: Any) -> Any:
        # C++ divides by 2^31 truncating toward zero; a shift floors, so bias negatives by 2^31 - 1.
        return ((nudged + tirx.Select(nudged < 0, i64((1 << 31) - 1), i64(0))) >> 31).astype("int32")

    return let(
        i64(a) * i64(b),
        lambda ab: let(ab + tirx.Select(ab >= 0, i64(1 << 30), i64(1 - (1 << 30))), high, "nudged"),
        "ab",
    )


def shift_left(x: Expr, amount: int) -> Any:
    """x * 2^amount, as TFLite writes it (`x * (1 << shift)`): C leaves a left shift of a negative
    int32 undefined (UBSan stops on it); the product is defined wherever it fits in int32."""
    return i32(x) * i32(1 << amount)


def shift_left_bits(x: Expr, amount: Expr) -> Any:
    """x << amount on the two's-complement bits (through uint32), for values that may not fit: TIR
    evaluates both arms of a Select, so even a shift whose result is discarded must be defined C."""
    return (i32(x).astype("uint32") << i32(amount).astype("uint32")).astype("int32")


def shift_amount(e: Any) -> Any:
    """A run-time shift clamped to 0..31. TFLite's shifts are always in range, so this changes
    no value; it tells TVM's bound analysis the range: with an unbounded shift amount it
    computes bogus bounds for `x >> e` and folds comparisons on them (seen in TVM 0.27)."""
    return tirx.max(tirx.min(e, i32(31)), i32(0))


def rounding_divide_by_pot(x: Expr, exponent: Expr) -> Any:
    """RoundingDivideByPOT: x / 2^exponent rounded to nearest, halves away from zero.
    `exponent` (0..31) may be a run-time value."""
    if isinstance(exponent, int) and exponent == 0:
        return i32(x)

    def divide(x: Any, e: Any) -> Any:
        def rounded(mask: Any) -> Any:
            threshold = (mask >> 1) + select(x < 0, 1, 0)
            return (x >> i32(e)) + select((x & mask) > threshold, 1, 0)

        if isinstance(e, int):
            return rounded(i32((1 << e) - 1))
        return let(i32(INT32_MAX) >> (i32(31) - e), rounded, "mask")  # 2^e - 1, never shifting into the sign

    if isinstance(exponent, int):
        return let(i32(x), lambda v: divide(v, exponent), "x")
    return let(i32(x), lambda v: let(shift_amount(exponent), lambda e: divide(v, e), "e"), "x")


def saturating_shift_left(x: Expr, exponent: int) -> Any:
    """SaturatingRoundingMultiplyByPOT with a positive exponent: x * 2^exponent, saturating."""
    if exponent == 0:
        return i32(x)
    threshold = (1 << (31 - exponent)) - 1
    return let(
        i32(x),
        lambda v: select(v > threshold, INT32_MAX,
                         select(v < -threshold, INT32_MIN, shift_left_bits(v, exponent))),
        "x",
    )


def multiply_by_quantized_multiplier(x: Expr, multiplier: Expr, shift: Expr, *, left: bool = True) -> Any:
    """MultiplyByQuantizedMultiplier (double rounding): shift > 0 shifts left before the high
    multiply, shift < 0 rounds right after it. `left=False` promises every shift is <= 0
    (true for nearly all convolution channels) and drops the left-shift code."""
    if isinstance(shift, int):
        up, down = max(shift, 0), max(-shift, 0)
        return rounding_divide_by_pot(srdhm(shift_left(x, up) if up else x, multiplier), down)
    if not left:
        return rounding_divide_by_pot(srdhm(x, multiplier), -shift)
    return rounding_divide_by_pot(srdhm(shift_left_bits(x, shift_amount(shift)), multiplier), -shift)


def multiply_by_quantized_multiplier_single(x: Expr, multiplier: Expr, shift: Expr) -> Any:
    """round(x * multiplier / 2^(31 - shift)) in int64 with one rounding, halves to even: what
    onnxruntime's float requantization (nearbyint) gives wherever the multiplier is the exact
    ratio (exact halves come from ratios such as 1/2 or 1/4). Nearer the exact product than
    TFLite's double rounding, whose first rounding is off by up to 2^(shift - 1) of the result.
    (TFLite's own TFLITE_SINGLE_ROUNDING is the same but rounds halves up.)"""
    if isinstance(shift, int):
        total: Any = i64(31 - shift)
        mask: Any = i64((1 << (31 - shift)) - 1)
    else:  # a per-channel shift; 31 - shift always lies in 1..62
        total = tirx.max(tirx.min(i64(31) - i64(shift), i64(62)), i64(1))
        mask = (i64(1) << total) - i64(1)

    def rounded(product: Any) -> Any:
        half = (mask >> i64(1)) + i64(1)
        up = (product + half) >> total  # halves up
        tie = (product & mask) == half
        return tirx.Select(tirx.all(tie, (up & i64(1)) == i64(1)), up - i64(1), up).astype("int32")

    return let(i64(x) * i64(multiplier), rounded, "product")


def requantize(
    acc: Expr,
    multiplier: Expr,
    shift: Expr,
    out_zero_point: int,
    act_min: int,
    act_max: int,
    *,
    left: bool = True,
    single: bool = False,
) -> Any:
    """The int8 epilogue of conv/fc: rescale the int32 accumulator, add the output zero point,
    clamp to the fused activation's range, narrow to int8. `single` rounds once, halves to even
    (multiply_by_quantized_multiplier_single) instead of TFLite Micro's double rounding. A shift
    loaded from a narrower table (int8 per-channel shifts) is widened to int32 first."""
    shift = shift if isinstance(shift, int) or dtype_of(shift) == "int32" else shift.astype("int32")
    if single:
        scaled = multiply_by_quantized_multiplier_single(acc, multiplier, shift) + i32(out_zero_point)
        return tirx.min(tirx.max(scaled, i32(act_min)), i32(act_max)).astype("int8")
    scaled = multiply_by_quantized_multiplier(acc, multiplier, shift, left=left) + i32(out_zero_point)
    return tirx.min(tirx.max(scaled, i32(act_min)), i32(act_max)).astype("int8")


def rounding_half_sum(a: Expr, b: Expr) -> Any:
    """RoundingHalfSum: (a + b + sign) / 2 in int64, truncating toward zero."""
    return let(
        i64(a) + i64(b),
        lambda s: let(
            s + tirx.Select(s >= 0, i64(1), i64(-1)),
            lambda t: ((t + tirx.Select(t < 0, i64(1), i64(0))) >> 1).astype("int32"),
            "t",
        ),
        "s",
    )


def exp_on_interval_between_negative_one_quarter_and_0_excl(a: Expr) -> Any:
    """exp(a) for a in [-1/4, 0), Q0.31 in and out (Taylor series around -1/8)."""
    constant_term, one_third = 1895147668, 715827883

    def taylor(x: Any, x2: Any) -> Any:
        x4_over_4 = rounding_divide_by_pot(srdhm(x2, x2), 2)
        poly = rounding_divide_by_pot(srdhm(x4_over_4 + srdhm(x2, x), one_third) + x2, 1)
        return i32(constant_term) + srdhm(constant_term, x + poly)

    return let(i32(a) + i32(1 << 28), lambda x: let(srdhm(x, x), lambda x2: taylor(x, x2), "x2"), "x")


_EXP_BARREL = (
    (-2, 1672461947),
    (-1, 1302514674),
    (0, 790015084),
    (1, 290630308),
    (2, 39332535),
    (3, 720401),
    (4, 242),
)


def exp_on_negative_values(a: Expr, integer_bits: int) -> Any:
    """exp(a) for a <= 0 given in Q(integer_bits).(31-integer_bits); the result is Q0.31."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)

    def barrel(a: Any, remainder: Any, result: Any, steps: tuple[tuple[int, int], ...]) -> Any:
        if not steps:
            if integer_bits > 5:
                result = select(a < i32(-(1 << (36 - integer_bits))), 0, result)
            return select(a == 0, INT32_MAX, result)
        (exponent, multiplier), rest = steps[0], steps[1:]
        if integer_bits > exponent:
            bit = i32(1 << (fractional_bits + exponent))
            result = let(result, lambda r: select((remainder & bit) != 0, srdhm(r, multiplier), r), "r")
        return barrel(a, remainder, result, rest)

    def from_quarter(a: Any, mod: Any) -> Any:
        result = exp_on_interval_between_negative_one_quarter_and_0_excl(
            saturating_shift_left(mod, integer_bits)
        )
        return let(mod - a, lambda rem: barrel(a, rem, result, _EXP_BARREL), "rem")

    return let(
        i32(a),
        lambda a: let((a & i32(one_quarter - 1)) - i32(one_quarter), lambda mod: from_quarter(a, mod), "mod"),
        "a",
    )


def _newton_half_denominator(a: Expr, finish: Callable[[Any], Any]) -> Any:
    """finish(x) with x = 1 / ((1 + a) / 2) in Q2.29 (a in [0, 1) in Q0.31), by three
    Newton-Raphson steps from 48/17 - 32/17 * half_denominator."""

    def newton(half_denominator: Any, x: Any, steps: int) -> Any:
        if steps == 0:
            return finish(x)
        one_minus = i32(1 << 29) - srdhm(half_denominator, x)
        return let(
            x + saturating_shift_left(srdhm(x, one_minus), 2),
            lambda nx: newton(half_denominator, nx, steps - 1),
            "x",
        )

    return let(
        rounding_half_sum(a, INT32_MAX),
        lambda hd: let(i32(1515870810) + srdhm(hd, -1010580540), lambda x: newton(hd, x, 3), "x"),
        "half_denominator",
    )


def one_over_one_plus_x_for_x_in_0_1(a: Expr) -> Any:
    """1 / (1 + a) for a in [0, 1) in Q0.31: Rescale<0>(ExactMulByPot<-1>(x))."""
    return _newton_half_denominator(a, lambda x: saturating_shift_left(x, 1))


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: Expr) -> Any:
    """(1 - a) / (1 + a) for a in [0, 1) in Q0.31 (tanh's): Rescale<0>(x - F2::One())."""
    return _newton_half_denominator(a, lambda x: saturating_shift_left(x - i32(1 << 29), 2))


def logistic(a: Expr, integer_bits: int) -> Any:
    """gemmlowp::logistic of a Q(integer_bits) value, Q0.31 out: 1 / (1 + exp(-|a|)) for a > 0,
    One() minus that for a < 0, exactly one half for 0."""

    def body(a: Any) -> Any:
        positive = let(
            one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(select(a > 0, -a, a), integer_bits)),
            lambda p: select(a > 0, p, i32(INT32_MAX) - p),
            "p",
        )
        return select(a == 0, 1 << 30, positive)

    return let(i32(a), body, "a")


def tanh(a: Expr, integer_bits: int) -> Any:
    """gemmlowp::tanh of a Q(integer_bits) value, Q0.31 out: (1 - exp(-2|a|)) / (1 + exp(-2|a|))
    (-|a| read with one more integer bit is -2|a|), negated for a < 0, 0 for 0."""

    def body(a: Any) -> Any:
        t = let(
            one_minus_x_over_one_plus_x_for_x_in_0_1(
                exp_on_negative_values(select(a < 0, a, -a), integer_bits + 1)
            ),
            lambda t: select(a < 0, -t, t),
            "t",
        )
        return select(a == 0, 0, t)

    return let(i32(a), body, "a")


def count_leading_zeros(x: Expr) -> Any:
    """CountLeadingZeros of x read as uint32 (32 for 0), without a clz instruction: the C
    backend has none, and branch-free compares cost little for once-per-row uses."""
    return let(
        i32(x),
        lambda v: select(v < 0, 0, sum((select(v < i32(1 << k), 1, 0) for k in range(31)), i32(1))),
        "x",
    )
