"""Every tensor intrinsic a schedule's trace may name, registered from the name alone, so that a
record (a tuning database's, or a shipped one) replays in a process that has not made it yet:
the dot products of harness.models.compile.intrin, their Helium names and the depthwise tile of
harness.models.compile.intrin_mve."""

from __future__ import annotations

import re

from harness.models.compile import intrin, intrin_mve

_MVE_DOT = re.compile(r"utvm_mve_dot_s8(?:_x(\d))?_k(\d+)(?:x(\d+))?(_w4)?")
_DW = re.compile(r"utvm_mve_dw_s8_c(\d+)_k(\d+)x(\d+)")


def register_named(text: str) -> list[str]:
    """Register every intrinsic named in `text` (a schedule's trace, to be replayed); their names."""
    names = intrin.register_named(text)
    for m in _MVE_DOT.finditer(text):
        outputs, k1, k2, w4 = m.groups()
        inner = (int(k1), int(k2)) if k2 else (int(k1),)
        names.append(intrin_mve.dot_name(inner, int(outputs or 1), 4 if w4 else 2))
    for m in _DW.finditer(text):
        names.append(intrin_mve.dw_name(*(int(g) for g in m.groups())))
    return names
