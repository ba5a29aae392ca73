"""TFLite's quantization parameters, computed exactly as TFLite Micro computes them.

Plain Python on doubles (and float32 where TFLite uses float): the multipliers and shifts
that the int8 kernels take as constants. Mirrors tensorflow/lite/kernels/internal/
quantization_util.cc and tensorflow/lite/kernels/kernel_util.cc (double-rounding build,
i.e. without TFLITE_SINGLE_ROUNDING, which is how the tflite-micro package is built).
"""

from __future__ import annotations

import math

import numpy as np

from harness.errors import ModelError

INT8_MIN, INT8_MAX = -128, 127
INT32_MAX = (1 << 31) - 1
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}


def tflite_round(x: float) -> float:
    """std::round: halves away from zero (Python's round() rounds halves to even)."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier: real = q * 2^(shift - 31) with q a Q31 int32 (shift > 0 is a left shift)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = int(tflite_round(q * (1 << 31)))
    if q_fixed > 1 << 31:
        raise ModelError(f"quantization multiplier {real} cannot be represented")
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:  # flush tiny multipliers to zero, as TFLite does
        return 0, 0
    return q_fixed, shift


def quantize_multiplier_smaller_than_one_exp(real: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: (multiplier, left shift <= 0) for 0 < real < 1."""
    if not 0.0 < real < 1.0:
        raise ModelError(f"quantization multiplier {real} is not in (0, 1)")
    q, shift = quantize_multiplier(real)
    if shift > 0:
        raise ModelError(f"quantization multiplier {real} rounds to 1 or more")
    return q, shift


def quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    """QuantizeMultiplierGreaterThanOne: (multiplier, left shift >= 0) for real > 1."""
    if not real > 1.0:
        raise ModelError(f"quantization multiplier {real} is not greater than 1")
    q, shift = quantize_multiplier(real)
    if shift < 0:
        raise ModelError(f"quantization multiplier {real} rounds below 1")
    return q, shift


def per_channel_multipliers(
    input_scale: float, filter_scales: np.ndarray, output_scale: float, channels: int
) -> tuple[np.ndarray, np.ndarray]:
    """PopulateConvolutionQuantizationParams: per output channel, the double
    input_scale * filter_scale / output_scale as (multiplier, shift) arrays: the multipliers int32
    (Q31), the shifts int8 (they lie in -31..31: stored in one byte, not four; the kernels widen
    them). One filter scale is broadcast along the channels."""
    scales = np.asarray(filter_scales, dtype=np.float32)
    mults, shifts = [], []
    for c in range(channels):
        fs = float(scales[c] if len(scales) > 1 else scales[0])
        q, s = quantize_multiplier(float(np.float32(input_scale)) * fs / float(np.float32(output_scale)))
        mults.append(q)
        shifts.append(s)
    if any(not -31 <= s <= 31 for s in shifts):
        raise ModelError(f"a per-channel quantization shift {max(shifts, key=abs)} is out of range")
    return np.array(mults, dtype=np.int32), np.array(shifts, dtype=np.int8)


def fold_bias(bias: np.ndarray, weight_sums: np.ndarray, in_zero_point: int) -> np.ndarray:
    """bias + input_offset * sum(w) (input_offset = -zero point), wrapped to int32 exactly as TFLite's
    int32 accumulator wraps: the kernels then pad with the zero point and skip the offset."""
    folded = bias.astype(np.int64) - np.int64(in_zero_point) * weight_sums.astype(np.int64)
    return ((folded + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)


def per_tensor_multiplier(input_scale: float, filter_scale: float, output_scale: float) -> tuple[int, int]:
    """GetQuantizedConvolutionMultipler (FULLY_CONNECTED with one filter scale): the product of
    the scales is taken in float32, the division by the output scale in double."""
    product = float(np.float32(input_scale) * np.float32(filter_scale))
    return quantize_multiplier(product / float(np.float32(output_scale)))


def _quantize(value: float, scale: float, zero_point: int) -> int:
    """kernel_util.cc Quantize: round(value / scale) in float32, plus the zero point."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        tmp = np.float32(value) / np.float32(scale)
    if not abs(float(tmp)) < 2.0**31:
        raise ModelError(f"activation bound {value} does not quantize with scale {scale}")
    return zero_point + int(tflite_round(float(tmp)))


def activation_range(
    activation: int, scale: float, zero_point: int, qmin: int = INT8_MIN, qmax: int = INT8_MAX
) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for a fused activation function."""
    name = ACTIVATIONS.get(activation, str(activation))
    if name == "NONE":
        return qmin, qmax
    if name == "RELU":
        return max(qmin, _quantize(0.0, scale, zero_point)), qmax
    if name == "RELU6":
        return max(qmin, _quantize(0.0, scale, zero_point)), min(qmax, _quantize(6.0, scale, zero_point))
    if name == "RELU_N1_TO_1":
        return max(qmin, _quantize(-1.0, scale, zero_point)), min(qmax, _quantize(1.0, scale, zero_point))
    raise ModelError(f"fused activation {name} is not supported for int8 models")


def input_radius(integer_bits: int, left_shift: int, total_signed_bits: int = 31) -> int:
    """CalculateInputRadius: the largest input difference whose rescaled value still fits."""
    max_rescaled = (
        1.0 * ((1 << integer_bits) - 1) * (1 << (total_signed_bits - integer_bits)) / (1 << left_shift)
    )
    return math.floor(max_rescaled)


def scale_ratio_multiplier(input_scale: float, output_scale: float) -> tuple[int, int]:
    """QuantizeMultiplier of the double input_scale / output_scale (QUANTIZE int8 -> int8, MEAN)."""
    return quantize_multiplier(float(np.float32(input_scale)) / float(np.float32(output_scale)))


