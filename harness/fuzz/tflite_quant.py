"""Random quantization parameters, weights and biases for the fuzzer's int8 cases."""

from __future__ import annotations

import numpy as np

SAME, VALID = 0, 1
ACTIVATIONS = (0, 0, 1, 2, 3)  # NONE (twice as often), RELU, RELU_N1_TO_1, RELU6


def zero_point(rng: np.random.Generator) -> int:
    """Anywhere in int8, the ends and zero more often."""
    if rng.random() < 0.3:
        return int(rng.choice([-128, -127, 0, 126, 127]))
    return int(rng.integers(-128, 128))


def scale(rng: np.random.Generator, around: float | None) -> float:
    """A float32-representable scale: three decades at random, or `around` times 1/16 .. 4 (so a
    requantization multiplier lands below or above one)."""
    value = 10 ** rng.uniform(-3, 0) if around is None else around * 2 ** rng.uniform(-4, 2)
    return float(np.float32(max(value, 1e-6)))


def quant(rng: np.random.Generator, around: float | None) -> tuple[float, int]:
    return scale(rng, around), zero_point(rng)


def act(rng: np.random.Generator) -> int:
    return int(rng.choice(ACTIVATIONS))


def weights(rng: np.random.Generator, shape: tuple[int, ...],
            channels: int) -> tuple[np.ndarray, list[float]]:
    """int8 weights (in -127..127, sometimes only -1..1) and their scales: per channel or per tensor."""
    high = 2 if rng.random() < 0.2 else 128
    w = rng.integers(-high + 1, high, size=shape, dtype=np.int8)
    n = channels if rng.random() < 0.6 else 1
    return w, [float(np.float32(s)) for s in 10 ** rng.uniform(-3, -1, n)]


def bias(rng: np.random.Generator, in_scale: float, ws: list[float],
         channels: int) -> tuple[np.ndarray, list[float], int]:
    """int32 bias of `channels` entries at scale input * weight (per channel, or repeated)."""
    scales = ws if len(ws) == channels else ws * channels
    return (rng.integers(-3000, 3000, size=(channels,), dtype=np.int32),
            [float(np.float32(in_scale * s)) for s in scales], 0)
