"""A scatter chart as inline SVG: points, their labels as tooltips, and a marked Pareto front."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape

W, H = 460, 320
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 30, 45
TICKS = 4


@dataclass(frozen=True)
class Series:
    points: list[tuple[float, float]]
    labels: list[str]
    front: list[int]  # indices of the points on the Pareto front, by x


def _scale(values: list[float], lo_px: float, hi_px: float) -> tuple[float, float, Callable[[float], float]]:
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    pad = (hi - lo) * 0.08 or max(abs(hi) * 0.05, 1.0)
    lo, hi = lo - pad, hi + pad

    def at(v: float) -> float:
        return lo_px + (v - lo) / (hi - lo) * (hi_px - lo_px)

    return lo, hi, at


def _number(v: float) -> str:
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.4g}{suffix}"
    return f"{v:.4g}"


def _staircase(series: Series, fx: Callable[[float], float], fy: Callable[[float], float]) -> str:
    """The front as the edge of what it dominates: down from the top at its smallest point, then a
    step at each point, out to the right edge."""
    at = [(fx(series.points[i][0]), fy(series.points[i][1])) for i in series.front]
    steps = [(at[0][0], float(TOP))]
    for (x, y), (nx, _) in zip(at, [*at[1:], (float(W - RIGHT), 0.0)], strict=True):
        steps += [(x, y), (nx, y)]
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in steps)


def scatter(series: Series, xlabel: str, ylabel: str, title: str) -> str:
    xs, ys = [p[0] for p in series.points], [p[1] for p in series.points]
    x0, x1, fx = _scale(xs, LEFT, W - RIGHT)
    y0, y1, fy = _scale(ys, H - BOTTOM, TOP)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' class='chart' width='{W}' height='{H}' "
             f"viewBox='0 0 {W} {H}' role='img' aria-label='{escape(title)}'>",
             f"<text x='{W / 2}' y='16' text-anchor='middle'>{escape(title)}</text>",
             f"<line x1='{LEFT}' y1='{H - BOTTOM}' x2='{W - RIGHT}' y2='{H - BOTTOM}' stroke='#555'/>",
             f"<line x1='{LEFT}' y1='{TOP}' x2='{LEFT}' y2='{H - BOTTOM}' stroke='#555'/>",
             f"<text x='{(LEFT + W - RIGHT) / 2}' y='{H - 8}' text-anchor='middle'>{escape(xlabel)}</text>",
             f"<text x='14' y='{(TOP + H - BOTTOM) / 2}' text-anchor='middle' "
             f"transform='rotate(-90 14 {(TOP + H - BOTTOM) / 2})'>{escape(ylabel)}</text>"]
    for i in range(TICKS + 1):
        xv, yv = x0 + (x1 - x0) * i / TICKS, y0 + (y1 - y0) * i / TICKS
        parts.append(f"<text x='{fx(xv):.1f}' y='{H - BOTTOM + 14}' text-anchor='middle'>"
                     f"{_number(xv)}</text>")
        parts.append(f"<text x='{LEFT - 4}' y='{fy(yv) + 4:.1f}' text-anchor='end'>{_number(yv)}</text>")
    if not series.points:
        parts.append(f"<text x='{W / 2}' y='{H / 2}' text-anchor='middle'>no cell measured</text>")
    if series.front:
        parts.append(f"<polyline class='front' points='{_staircase(series, fx, fy)}'/>")
    on_front = set(series.front)
    for i, ((x, y), text) in enumerate(zip(series.points, series.labels, strict=True)):
        css = "point pareto" if i in on_front else "point"
        radius = 6 if i in on_front else 4
        parts.append(f"<circle class='{css}' cx='{fx(x):.1f}' cy='{fy(y):.1f}' r='{radius}' "
                     f"data-x='{x:g}' data-y='{y:g}' data-cell='{escape(text)}'><title>{escape(text)}: "
                     f"{_number(x)} B, {_number(y)} {escape(ylabel)}</title></circle>")
    parts.append("</svg>")
    return "".join(parts)
