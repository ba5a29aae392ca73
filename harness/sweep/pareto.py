"""The Pareto front of a target's cells: no other cell is both smaller and faster."""

from __future__ import annotations

from collections.abc import Sequence


def front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both x and y (lower is better on both), by x."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    best_y = float("inf")
    out = []
    for i in order:
        if points[i][1] < best_y:
            out.append(i)
            best_y = points[i][1]
    return out
