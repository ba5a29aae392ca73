"""The fixed-point building blocks of the int8 kernels, against plain-Python transcriptions of
gemmlowp and TFLite (C++ semantics: truncating division, arithmetic shifts), on edge values
and random int32s, through TVM's llvm build; and TFLite's quantization parameters."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tests.conftest import require_tvm

pytestmark = pytest.mark.tvm
EDGES = [-(2**31), -(2**31) + 1, -(2**30), -65537, -3, -2, -1, 0, 1, 2, 3, 65535, 2**30, 2**31 - 2, 2**31 - 1]


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def ref_srdhm(a: int, b: int) -> int:
    ab = a * b
    return _trunc_div(ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30)), 1 << 31)


def ref_rdbpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    return (x >> e) + (1 if (x & mask) > (mask >> 1) + (1 if x < 0 else 0) else 0)


def ref_mbqm(x: int, m: int, s: int) -> int:
    wrapped = ((x * (1 << max(s, 0))) + 2**31) % 2**32 - 2**31
    return ref_rdbpot(ref_srdhm(wrapped, m), max(-s, 0))


def _run(fn: Callable[..., object], columns: list[np.ndarray]) -> np.ndarray:
    tvm = require_tvm()
    from tvm import te

    n = len(columns[0])
    args = [te.placeholder((n,), "int32", name=f"a{i}") for i in range(len(columns))]
    out = te.compute((n,), lambda i: fn(*(a[i] for a in args)), name="out")
    from harness.models.int8.scalars import materialize_lets

    func = materialize_lets(te.create_prim_func([*args, out]))
    lib = tvm.compile(tvm.IRModule({"main": func}), target="llvm")
    result = tvm.runtime.tensor(np.zeros(n, np.int32))
    lib["main"](*(tvm.runtime.tensor(c.astype(np.int32)) for c in columns), result)
    return result.numpy().astype(np.int64)


def _pairs(count: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    # every pair of edge values but INT32_MIN * INT32_MIN, which gemmlowp saturates and no kernel reaches
    grid = np.array([(a, b) for a in EDGES for b in EDGES if not a == b == -(2**31)])
    rand = rng.integers(-(2**31), 2**31, size=(count, 2))
    both = np.concatenate([grid, rand])
    return both[:, 0], both[:, 1]


def test_saturating_rounding_doubling_high_mul() -> None:
    from harness.models.int8 import fixedpoint as fp

    a, b = _pairs()
    got = _run(fp.srdhm, [a, b])
    assert got.tolist() == [ref_srdhm(int(x), int(y)) for x, y in zip(a, b, strict=True)]


def test_rounding_divide_by_pot_constant_and_runtime_exponent() -> None:
    from harness.models.int8 import fixedpoint as fp

    x, _ = _pairs()
    e = np.random.default_rng(6).integers(0, 32, size=len(x))
    expected = [ref_rdbpot(int(v), int(k)) for v, k in zip(x, e, strict=True)]
    assert _run(fp.rounding_divide_by_pot, [x, e]).tolist() == expected
    for k in (1, 5, 31):
        got = _run(lambda v, k=k: fp.rounding_divide_by_pot(v, k), [x])
        assert got.tolist() == [ref_rdbpot(int(v), k) for v in x]


def test_multiply_by_quantized_multiplier_with_per_channel_shifts() -> None:
    from harness.models.int8 import fixedpoint as fp

    rng = np.random.default_rng(8)
    x = rng.integers(-(2**20), 2**20, size=3000)
    m = rng.integers(2**30, 2**31, size=3000)
    s = rng.integers(-31, 8, size=3000)
    got = _run(fp.multiply_by_quantized_multiplier, [x, m, s])
    assert got.tolist() == [ref_mbqm(int(a), int(b), int(c)) for a, b, c in zip(x, m, s, strict=True)]


def test_count_leading_zeros() -> None:
    from harness.models.int8 import fixedpoint as fp

    x, _ = _pairs()
    assert _run(fp.count_leading_zeros, [x]).tolist() == [32 - (int(v) % 2**32).bit_length() for v in x]


def test_quantize_multiplier_as_tflite() -> None:
    from harness.models.int8 import quant

    assert quant.quantize_multiplier(0.0) == (0, 0)
    assert quant.quantize_multiplier(0.5) == (1 << 30, 0)
    assert quant.quantize_multiplier(1.0) == (1 << 30, 1)
    assert quant.quantize_multiplier(2.0**-40) == (0, 0)  # flushed to zero below 2^-31
    assert quant.quantize_multiplier(1 - 2.0**-40) == (1 << 30, 1)  # rounds to 2^31: halved, shift + 1
    q, shift = quant.quantize_multiplier(0.0123456789)
    assert shift == -6 and q == round(0.0123456789 * 2**37)
    assert quant.tflite_round(2.5) == 3 and quant.tflite_round(-2.5) == -3  # halves away from zero


def test_activation_ranges() -> None:
    from harness.models.int8 import quant

    assert quant.activation_range(0, 0.1, 3) == (-128, 127)
    assert quant.activation_range(1, 0.1, -20) == (-20, 127)
    assert quant.activation_range(3, 0.05, -128) == (-128, -8)  # 6 / 0.05 = 120
    assert quant.activation_range(2, 0.01, 0) == (-100, 100)
    assert quant.activation_range(3, 0.0235, -128) == (-128, 127)  # 255.3: clamped to int8
