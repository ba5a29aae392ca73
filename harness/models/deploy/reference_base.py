"""What a reference runtime is to the rest of deploy (a Reference: its name, version and a run
function) and how a device's outputs are compared with its outputs (compare)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import numpy as np


@dataclass
class Reference:
    runtime: str  # e.g. "tflite-micro"
    version: str
    run: Callable[[list[np.ndarray]], list[np.ndarray]]
    arena_bytes: int | None = None  # TFLite Micro's whole arena for the model, where it tells

    def describe(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "version": self.version, "arena_bytes": self.arena_bytes}


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def version(dist: str) -> str:
    """The installed version of a distribution, or "unknown"."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def compare(got: np.ndarray, expected: np.ndarray, scale: float | None = None) -> dict[str, Any]:
    """How far the device's output is from the reference's: max |diff|, in LSB for integer outputs
    (or in units of the output's scale, when a float output has one: a QDQ model's output
    dequantized from int8), and whether the top-1 agrees. Integer outputs, and float outputs with a
    scale, match within one LSB (the reference may requantize in float, as onnxruntime does);
    other float outputs match to a relative 1e-4."""
    got64, exp64 = got.astype(np.float64), np.asarray(expected).astype(np.float64)
    if got64.shape == exp64.shape:  # NaN where the reference has NaN (sqrt of a negative) agrees
        both_nan = np.isnan(got64) & np.isnan(exp64)
        got64, exp64 = np.where(both_nan, 0.0, got64), np.where(both_nan, 0.0, exp64)
    diff = float(np.abs(got64 - exp64).max(initial=0.0)) if got64.shape == exp64.shape else float("inf")
    if np.dtype(got.dtype).kind in "iu":
        lsb: float | None = diff
    else:
        lsb = diff / scale if scale else None
    last = got64.shape[-1] if got64.ndim else 1  # a scalar output is its own row
    top1 = (got64.shape == exp64.shape and got64.size > 0
            and bool(np.array_equal(got64.reshape(-1, last).argmax(-1), exp64.reshape(-1, last).argmax(-1))))
    if np.dtype(got.dtype).kind in "iu":
        matches = diff <= 1.0
    elif lsb is not None:
        matches = lsb <= 1.0 + 1e-3  # float rounding of (q - zero point) * scale
    else:
        matches = bool(got64.shape == exp64.shape and np.allclose(got64, exp64, rtol=1e-4, atol=1e-5))
    return {"max_abs_diff": diff, "max_diff_lsb": lsb, "top1_agrees": top1, "matches_reference": matches}
