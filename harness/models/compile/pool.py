"""Offsets in one memory pool for buffers with known lifetimes (the static memory plan's placement).

Each buffer lives over an interval of kernel calls (first..last, inclusive); two buffers whose
intervals overlap must not share bytes. `place` tries two greedy orders, each putting a buffer at
the lowest offset that clears the buffers already placed and alive with it: by first use (then
size), as a stack of activations grows, and by size alone, largest first (TFLite Micro's greedy
planner). It keeps the order whose pool is smaller (the first on a tie), so the result is never
larger than the by-first-use plan this module replaced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Interval:
    key: int
    size: int  # bytes, already aligned as the pool needs
    first: int  # first kernel call at which the buffer holds data
    last: int  # last such call


def _lowest(busy: list[tuple[int, int]], size: int) -> int:
    """The lowest offset at which `size` bytes clear every (offset, size) in busy."""
    offset = 0
    for o, s in sorted(busy):
        if offset + size <= o:
            break
        offset = max(offset, o + s)
    return offset


def _greedy(buffers: list[Interval]) -> tuple[dict[int, int], int]:
    placed: list[tuple[int, Interval]] = []
    offsets: dict[int, int] = {}
    top = 0
    for b in buffers:
        live = [(o, p.size) for o, p in placed if not (p.last < b.first or p.first > b.last)]
        offsets[b.key] = _lowest(live, b.size)
        placed.append((offsets[b.key], b))
        top = max(top, offsets[b.key] + b.size)
    return offsets, top


ORDERS: tuple[Callable[[Interval], tuple[int, ...]], ...] = (
    lambda b: (b.first, -b.size, b.key),
    lambda b: (-b.size, b.first, b.key),
)


def place(buffers: list[Interval]) -> tuple[dict[int, int], int]:
    """Each buffer's offset (by key) and the pool's size."""
    plans = [_greedy(sorted(buffers, key=order)) for order in ORDERS]
    return min(plans, key=lambda plan: plan[1])
