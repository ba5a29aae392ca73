"""The report of a tune: per kernel and for the whole model, before and after, as text, JSON and
HTML (with an inline-SVG curve of best time against trials per task)."""

from __future__ import annotations

import html
from dataclasses import asdict
from typing import Any

from harness.targets import Target, get_target
from harness.tune.session import KernelFigures, TuneResult


def _count(tgt: Target, seconds: float | None) -> tuple[float | None, str]:
    """(figure, unit): instructions under QEMU -icount, cycles on a board, else microseconds."""
    if seconds is None:
        return None, ""
    if tgt.icount_shift is not None:
        return float(tgt.instructions(seconds) or 0), "instructions"
    if tgt.cpu_hz is not None:
        return float(tgt.cycles(seconds) or 0), "cycles"
    return seconds * 1e6, "us"


def _speedup(before: float | None, after: float | None) -> float | None:
    return round(before / after, 3) if before and after else None


def _chosen(k: KernelFigures) -> str:
    """What production runs for the task: its blocked micro-kernel, its best tuned schedule or the
    default schedule (harness.tune.session._final settles it)."""
    if k.blocked is not None and k.after == k.blocked:
        return "blocked"
    return "default" if k.after is None or k.after == k.before else "tuned"


def as_dict(r: TuneResult, model: dict[str, Any] | None = None) -> dict[str, Any]:
    kernels, tgt = [], get_target(r.target)
    for k in r.kernels:
        b, unit = _count(tgt, k.before)
        a, _ = _count(tgt, k.after)
        kernels.append({**asdict(k), "unit": unit, "before_count": b, "after_count": a,
                        "speedup": _speedup(k.before, k.after if k.after is not None else k.before),
                        "chosen": _chosen(k)})
    return {"target": r.target, "database": str(r.db), "trials_run": r.trials_run,
            "trials_total": r.trials_total, "seconds": round(r.seconds, 1), "kernels": kernels,
            "model": model}


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    return f"{v / 1e6:.3f} M" if unit in ("instructions", "cycles") else f"{v:.1f} us"


def text(d: dict[str, Any]) -> list[str]:
    lines = [f"tuned on {d['target']}: {d['trials_run']} trials this run, {d['trials_total']} in the "
             f"database ({d['database']}), {d['seconds']:.0f} s"]
    unit = next((k["unit"] for k in d["kernels"] if k["unit"]), "")
    lines.append(f"  {'kernel':<24}{'calls':>6}{'before':>14}{'after':>14}{'speed-up':>10}{'trials':>8}"
                 f"{'failed':>8}{'rejected':>9}  {'runs':<8} ({unit} per call)")
    for k in d["kernels"]:
        sp = f"{k['speedup']:.2f}x" if k["speedup"] else "-"
        lines.append(f"  {k['task']:<24}{k['calls']:>6}{_fmt(k['before_count'], k['unit']):>14}"
                     f"{_fmt(k['after_count'], k['unit']):>14}{sp:>10}{k['trials']:>8}{k['failed']:>8}"
                     f"{k['rejected']:>9}  {k['chosen']}")
    m = d.get("model")
    if m:
        executor = m.get("executor", "graph")
        lines.append(f"  whole model ({executor} executor): {_fmt(m['before'], m['unit'])} -> "
                     f"{_fmt(m['after'], m['unit'])} "
                     f"{m['unit']} per inference ({m['speedup']:.2f}x); outputs against "
                     f"{m['reference']}: max {m['max_diff_lsb']} LSB, top-1 "
                     f"{'agrees' if m['top1_agrees'] else 'DIFFERS'}")
        if m.get("budget_note"):
            lines.append(f"  tuned model: {m['budget_note']}")
    return lines


def _svg(k: dict[str, Any], width: int = 320, height: int = 140) -> str:
    curve: list[tuple[int, float]] = [tuple(p) for p in k["curve"]]  # type: ignore[misc]
    if not curve:
        return "<svg width='320' height='20'><text x='4' y='14'>no valid candidate</text></svg>"
    xs, ys = [p[0] for p in curve], [p[1] for p in curve]
    y_hi = max(ys + ([k["before"]] if k["before"] else []))
    y_lo = min(ys) * 0.95
    sx = (width - 40) / max(max(xs), 1)
    sy = (height - 30) / max(y_hi - y_lo, 1e-12)

    def pt(x: float, y: float) -> str:
        return f"{30 + x * sx:.1f},{height - 20 - (y - y_lo) * sy:.1f}"

    path = " ".join(pt(x, y) for x, y in curve)
    y0 = pt(0, k["before"]).split(",")[1] if k["before"] else ""
    base = (f"<line x1='30' x2='{width - 10}' y1='{y0}' y2='{y0}' stroke='#c33' stroke-dasharray='4'/>"
            if k["before"] else "")
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>"
            f"<rect width='100%' height='100%' fill='#fafafa'/>{base}"
            f"<polyline fill='none' stroke='#36c' stroke-width='2' points='{path}'/>"
            f"<text x='30' y='{height - 4}' font-size='10'>trials: {max(xs)}</text>"
            f"<text x='{width - 150}' y='12' font-size='10'>best time (red: default schedule)</text></svg>")


def html_page(d: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(k['task'])}</td><td>{k['calls']}</td>"
        f"<td>{_fmt(k['before_count'], k['unit'])}</td><td>{_fmt(k['after_count'], k['unit'])}</td>"
        f"<td>{(k['speedup'] or 0):.2f}x</td><td>{k['trials']}</td>"
        f"<td>{k['failed']}</td><td>{k['rejected']}</td><td>{k['chosen']}</td><td>{_svg(k)}</td></tr>"
        for k in d["kernels"])
    summary = "".join(f"<p>{html.escape(line.strip())}</p>" for line in text(d)[:1] + text(d)[-1:])
    return ("<!doctype html><html><head><meta charset='utf-8'><title>utvm tune</title><style>"
            "body{font-family:sans-serif}td,th{padding:4px 8px;border-bottom:1px solid #ddd}</style></head>"
            f"<body><h1>utvm tune on {html.escape(d['target'])}</h1>{summary}<table><tr><th>kernel</th>"
            "<th>calls</th><th>before</th><th>after</th><th>speed-up</th><th>trials</th><th>failed</th>"
            f"<th>rejected</th><th>runs</th><th>best against trials</th></tr>{rows}</table></body></html>\n")


__all__ = ["KernelFigures", "as_dict", "html_page", "text"]
