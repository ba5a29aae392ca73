"""Dead-channel elimination on an int8 TFLite model, exact in integer arithmetic.

An output channel of a CONV_2D whose weights are all zero outputs one constant K everywhere: its
accumulator is its bias (the input offset multiplies zero weights), requantized and clamped. Such a
channel is removed from the model when every operator downstream of it can take its constant in
exactly:
- a CONV_2D or FULLY_CONNECTED consumer adds (K - zp) * sum of the channel's weights to each output
  channel's int32 bias and drops the channel's weights: exact wherever every tap reads the tensor;
  a padded tap reads the zero point, not K, so through padding only K == zp is taken (it adds 0);
- a DEPTHWISE_CONV_2D (depth multiplier 1) passes the channel on as its own constant
  requant(bias + (K - zp) * sum(w)), on the same terms (no padding, or K == zp);
- an AVERAGE_POOL_2D (same quantization in and out) passes K on, clamped to its activation: the
  mean of equal values is that value (TFLite Micro divides the sum of valid taps by their count);
- a RESHAPE that keeps the last dimension passes K on.
Anything else downstream (ADD, a model output, a tensor read twice) keeps the channel. Biases
wrap to int32 as TFLite Micro's int32 accumulator does, so every output is bit-identical.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from harness.errors import ModelError
from harness.models.int8 import quant
from harness.models.int8.tflite_model import Operator, Quant, Tensor, TFLiteModel

Constants = dict[int, int]  # channel -> its constant int8 value
SAME = 0  # TFLite's Padding enum: SAME 0, VALID 1


def eliminate_dead_channels(model: TFLiteModel) -> TFLiteModel:
    """A copy of the model without the dead channels that fold away exactly (the model itself if
    there are none)."""
    out = copy.deepcopy(model)
    changed = False
    for op in out.operators:
        if op.op != "CONV_2D":
            continue
        t = op.outputs[0]
        try:  # a dry run first: only this computes (and may refuse) quantization parameters
            consts = _dead_outputs(out, op)
            taken = _through(out, t, consts, apply=False) if consts else set()
        except ModelError:  # scales the converter refuses: it says so, naming the operator
            continue
        if len(taken) == out.tensors[t].shape[-1]:
            taken.discard(max(taken))  # a tensor keeps at least one channel
        if taken:
            _drop_outputs(out, op, sorted(taken))
            _through(out, t, {c: consts[c] for c in taken}, apply=True)
            changed = True
    return out if changed else model


def _dead_outputs(model: TFLiteModel, op: Operator) -> Constants:
    """{channel: its constant output} for the CONV_2D's all-zero output channels."""
    x, w, b = (_tensor(model, i) for i in op.inputs[:3])
    out = model.tensors[op.outputs[0]]
    if x is None or w is None or w.data is None or w.quant is None or x.quant is None or out.quant is None:
        return {}
    if not _sole_user(model, op, op.inputs[1]) or (b is not None and not _sole_user(model, op, op.inputs[2])):
        return {}
    dead = [c for c in range(w.data.shape[0]) if not w.data[c].any()]
    if not dead:
        return {}
    bias = np.zeros(w.data.shape[0], np.int64) if b is None or b.data is None else b.data.astype(np.int64)
    mult, shift = quant.per_channel_multipliers(x.scale, w.quant.scales, out.scale, w.data.shape[0])
    lo, hi = _activation(op, out)
    return {c: _requant(int(bias[c]), int(mult[c]), int(shift[c]), out.zero_point, lo, hi) for c in dead}


def _through(model: TFLiteModel, t: int, consts: Constants, *, apply: bool) -> set[int]:
    """The channels of tensor t (constants `consts`) that its one consumer takes in exactly; with
    `apply`, the consumer (and what follows it) is rewritten without them."""
    users = [op for op in model.operators if t in op.inputs]
    if t in model.outputs or len(users) != 1 or list(users[0].inputs).index(t) != 0:
        return set()
    if list(users[0].inputs).count(t) != 1:
        return set()
    handler = _HANDLERS.get(users[0].op)
    return handler(model, users[0], consts, apply) if handler else set()


def _conv(model: TFLiteModel, op: Operator, consts: Constants, apply: bool) -> set[int]:
    x, w, b = (_tensor(model, i) for i in op.inputs[:3])
    if w is None or w.data is None or b is None or b.data is None or x is None or x.quant is None:
        return set()
    if not (_sole_user(model, op, op.inputs[1]) and _sole_user(model, op, op.inputs[2])):
        return set()
    if w.data.ndim != 4 or w.data.shape[3] != x.shape[-1]:
        return set()  # a grouped convolution
    padded = _padded(op, x, model.tensors[op.outputs[0]], w.data.shape[1:3])
    taken = {c for c, k in consts.items() if k == x.zero_point or not padded}
    if apply:
        chans = sorted(taken)
        sums = w.data[..., chans].astype(np.int64).sum(axis=(1, 2))  # [O, len(chans)]
        _add_bias(b, sums @ np.array([consts[c] - x.zero_point for c in chans], np.int64))
        _delete(w, 3, chans)
        _narrow(x, chans)
    return taken


def _fully_connected(model: TFLiteModel, op: Operator, consts: Constants, apply: bool) -> set[int]:
    x, w, b = (_tensor(model, i) for i in op.inputs[:3])
    if w is None or w.data is None or b is None or b.data is None or x is None or x.quant is None:
        return set()
    if w.data.ndim != 2 or x.shape[-1] != w.data.shape[1] or not _sole_user(model, op, op.inputs[1]):
        return set()
    if not _sole_user(model, op, op.inputs[2]):
        return set()
    if apply:
        chans = sorted(consts)
        _add_bias(b, w.data[:, chans].astype(np.int64) @ np.array(
            [consts[c] - x.zero_point for c in chans], np.int64))
        _delete(w, 1, chans)
        _narrow(x, chans)
    return set(consts)


def _depthwise(model: TFLiteModel, op: Operator, consts: Constants, apply: bool) -> set[int]:
    x, w, b = (_tensor(model, i) for i in op.inputs[:3])
    out = model.tensors[op.outputs[0]]
    if int(op.options.get("depth_multiplier", 1) or 1) != 1 or x is None or x.quant is None:
        return set()
    if out.quant is None:
        return set()
    if w is None or w.data is None or w.quant is None or b is None or b.data is None:
        return set()
    if not (_sole_user(model, op, op.inputs[1]) and _sole_user(model, op, op.inputs[2])):
        return set()
    if w.data.ndim != 4 or w.data.shape[3] != x.shape[-1] or out.shape[-1] != x.shape[-1]:
        return set()
    padded = _padded(op, x, out, w.data.shape[1:3])
    mult, shift = quant.per_channel_multipliers(x.scale, w.quant.scales, out.scale, w.data.shape[3])
    lo, hi = _activation(op, out)
    passed: Constants = {}
    for c, k in consts.items():
        if k == x.zero_point or not padded:
            acc = _wrap(int(b.data[c]) + (k - x.zero_point) * int(w.data[..., c].astype(np.int64).sum()))
            passed[c] = _requant(acc, int(mult[c]), int(shift[c]), out.zero_point, lo, hi)
    taken = _through(model, op.outputs[0], passed, apply=False) if passed else set()
    if apply and taken:
        chans = sorted(taken)
        _through(model, op.outputs[0], {c: passed[c] for c in chans}, apply=True)
        _delete(w, 3, chans)
        _delete(b, 0, chans)
        _narrow(x, chans)
    return taken


def _average_pool(model: TFLiteModel, op: Operator, consts: Constants, apply: bool) -> set[int]:
    x, out = _tensor(model, op.inputs[0]), model.tensors[op.outputs[0]]
    if x is None or x.quant is None or out.quant is None:
        return set()
    if (x.scale, x.zero_point) != (out.scale, out.zero_point):
        return set()
    lo, hi = _activation(op, out)
    passed = {c: min(max(k, lo), hi) for c, k in consts.items()}
    taken = _through(model, op.outputs[0], passed, apply=False)
    if apply and taken:
        _through(model, op.outputs[0], {c: passed[c] for c in taken}, apply=True)
        _narrow(x, sorted(taken))
    return taken


def _reshape(model: TFLiteModel, op: Operator, consts: Constants, apply: bool) -> set[int]:
    x, out = _tensor(model, op.inputs[0]), model.tensors[op.outputs[0]]
    if x is None or not x.shape or not out.shape or x.shape[-1] != out.shape[-1]:
        return set()
    shape_t = _tensor(model, op.inputs[1]) if len(op.inputs) > 1 else None
    if shape_t is not None and (shape_t.data is None or not _sole_user(model, op, op.inputs[1])):
        return set()
    taken = _through(model, op.outputs[0], consts, apply=False)
    if apply and taken:
        _through(model, op.outputs[0], {c: consts[c] for c in taken}, apply=True)
        kept = x.shape[-1] - len(taken)
        if shape_t is not None and shape_t.data is not None and shape_t.data.size:
            shape_t.data = shape_t.data.copy()
            shape_t.data.reshape(-1)[-1] = kept
        if op.options.get("new_shape"):
            op.options["new_shape"] = [*list(op.options["new_shape"])[:-1], kept]
        _narrow(x, sorted(taken))
    return taken


_HANDLERS: dict[str, Callable[[TFLiteModel, Operator, Constants, bool], set[int]]] = {
    "CONV_2D": _conv,
    "FULLY_CONNECTED": _fully_connected,
    "DEPTHWISE_CONV_2D": _depthwise,
    "AVERAGE_POOL_2D": _average_pool,
    "RESHAPE": _reshape,
}


def _drop_outputs(model: TFLiteModel, op: Operator, chans: list[int]) -> None:
    """The producer without its output channels `chans` (their weight rows, biases and scales)."""
    w, b = model.tensors[op.inputs[1]], _tensor(model, op.inputs[2])
    _delete(w, 0, chans)
    if b is not None and b.data is not None:
        _delete(b, 0, chans)


def _tensor(model: TFLiteModel, index: int) -> Tensor | None:
    return model.tensors[index] if index >= 0 else None


def _sole_user(model: TFLiteModel, op: Operator, index: int) -> bool:
    """Whether op is the only reader of tensor `index` (a constant edited in place is no one else's)."""
    return index >= 0 and index not in model.outputs and all(
        index not in other.inputs for other in model.operators if other is not op)


def _padded(op: Operator, x: Tensor, out: Tensor, kernel: tuple[int, ...]) -> bool:
    """Whether any window of the operator reaches outside its input (SAME padding that pads)."""
    if int(op.options.get("padding", SAME)) != SAME:
        return False
    for axis, (k, stride, dil) in enumerate(zip(
            kernel, ("stride_h", "stride_w"), ("dilation_h_factor", "dilation_w_factor"), strict=True)):
        s, d = int(op.options.get(stride, 1)), int(op.options.get(dil, 1))
        if (out.shape[1 + axis] - 1) * s + (int(k) - 1) * d + 1 > x.shape[1 + axis]:
            return True
    return False


def _activation(op: Operator, out: Tensor) -> tuple[int, int]:
    activation = int(op.options.get("fused_activation_function", 0))
    return quant.activation_range(activation, out.scale, out.zero_point)


def _delete(t: Tensor, axis: int, chans: list[int]) -> None:
    """Channels `chans` out of constant t along `axis`, with their per-channel scales."""
    assert t.data is not None
    t.data = np.ascontiguousarray(np.delete(t.data, chans, axis=axis))
    t.shape = tuple(int(d) for d in t.data.shape)
    q = t.quant
    if q is not None and len(q.scales) > 1 and q.dim == axis:
        keep = np.setdiff1d(np.arange(len(q.scales)), chans)
        zps = q.zero_points[keep] if len(q.zero_points) > 1 else q.zero_points
        t.quant = Quant(q.scales[keep], zps, q.dim)


def _narrow(t: Tensor, chans: list[int]) -> None:
    """An activation tensor without channels `chans` (its last dimension)."""
    t.shape = (*t.shape[:-1], t.shape[-1] - len(chans))


def _add_bias(b: Tensor, delta: np.ndarray) -> None:
    assert b.data is not None
    sums = [_wrap(int(v) + int(d)) for v, d in zip(b.data, delta, strict=True)]
    b.data = np.array(sums, dtype=b.data.dtype)


def _wrap(v: int) -> int:
    """v wrapped to int32, as TFLite Micro's int32 accumulator wraps."""
    return (v + (1 << 31)) % (1 << 32) - (1 << 31)


def _requant(acc: int, mult: int, shift: int, zp: int, lo: int, hi: int) -> int:
    """TFLite Micro's MultiplyByQuantizedMultiplier (double rounding) + zero point, clamped."""
    x = _wrap(acc * (1 << max(shift, 0)))
    ab = x * mult
    nudged = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
    high = abs(nudged) >> 31 if nudged >= 0 else -(abs(nudged) >> 31)  # C division truncates
    if x == mult == -(1 << 31):
        high = (1 << 31) - 1
    e = max(-shift, 0)
    mask = (1 << e) - 1
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    scaled = (high >> e) + (1 if (high & mask) > threshold else 0)
    return min(max(scaled + zp, lo), hi)
