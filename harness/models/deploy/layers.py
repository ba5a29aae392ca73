"""Where a model's time goes, by layer type: a profiled run's node times summed per operator, beside
the multiply-accumulates of the convolutions and fully connected layers, as instructions (or cycles)
per MAC. The bench prints these against the floor of each core's multiply instruction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.models.compile.model import Compiled
from harness.models.int8.attrs import OP_ATTR

MAC_OPS = ("conv2d", "depthwise_conv2d", "fully_connected")
# MACs one instruction retires at best: SMLAD does 2 (DSP cores), VMLADAV.S8 16 lanes (Helium, one
# instruction under QEMU's count); a Cortex-M without DSP (the M3) 2 as well, by SMLAL on two pixels
# packed in one word (utvm/dsp_blocked_smlal.h). Every Cortex-M board here has at least SMLAL.
FLOORS = (("mve", 16), ("dsp", 2))
SMLAL_PACKED = 2


def macs(func: Any) -> int:
    """Multiply-accumulates of a conv / depthwise / fully connected kernel (0 for other kernels)."""
    shapes = [tuple(int(d) for d in p.shape) for p in func.params]
    op = _op(func)
    out = int(np.prod(shapes[-1]))
    if op == "conv2d":
        return out * int(np.prod(shapes[1][1:]))
    if op == "depthwise_conv2d":
        return out * shapes[1][1] * shapes[1][2]
    if op == "fully_connected":
        return out * shapes[1][1]
    return 0


def _op(func: Any) -> str:
    attrs = getattr(func, "attrs", None)
    return str(attrs[OP_ATTR]) if attrs is not None and OP_ATTR in attrs else "other"


@dataclass
class LayerType:
    op: str
    count: float = 0.0  # instructions (or cycles, or seconds: whatever the caller summed)
    macs: int = 0

    @property
    def per_mac(self) -> float | None:
        return self.count / self.macs if self.macs else None


def by_layer_type(compiled: Compiled, profile: Iterable[tuple[str, float]]) -> dict[str, LayerType]:
    """Per operator of the MAC layers (the rest as "other"): the profile's figures summed, and MACs."""
    funcs = {gv.name_hint: f for gv, f in compiled.relax_mod.functions.items()}
    rows: dict[str, LayerType] = defaultdict(lambda: LayerType(""))
    for name, figure in profile:
        func = funcs[name]
        n = macs(func)
        op = _op(func) if n else "other"
        row = rows[op]
        row.op, row.count, row.macs = op, row.count + figure, row.macs + n
    return dict(rows)


def mac_floor(features: Iterable[str]) -> float:
    """Instructions per MAC of the core's widest multiply-accumulate."""
    found = set(features)
    return next((1.0 / n for feature, n in FLOORS if feature in found), 1.0 / SMLAL_PACKED)
