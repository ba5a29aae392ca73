"""What a sweep leaves: the document (`--json`, sweep.json) and the report page (report.html: one
self-contained file, inline SVG, no scripts or external assets)."""

from __future__ import annotations

from html import escape
from typing import Any

from harness.sweep.pareto import front
from harness.sweep.run import Row
from harness.sweep.svg import Series, scatter

AXES = ("executor", "weights", "opt", "tuning", "config")
STYLE = """body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px}td.n{text-align:right}.failed td{background:#fee}
.charts{display:flex;flex-wrap:wrap;gap:2em}div.chart{width:470px}
svg{background:#fafafa;border:1px solid #ddd}
circle.point{fill:#4a7fd0;stroke:#234}circle.pareto{fill:#d03a2a;stroke:#600}
polyline.front{fill:none;stroke:#d03a2a;stroke-dasharray:4 3}text{font-size:11px}"""


def document(model: dict[str, Any], rows: list[Row]) -> dict[str, Any]:
    """The `--json` document: the model, and one row per cell."""
    return {"model": model, "rows": rows}


def label(row: Row) -> str:
    """The cell, less its target: e.g. aot/tuning auto."""
    parts = [str(row["executor"]), f"tuning {row['tuning']}"]
    parts += [f"{k} {row[k]}" for k in ("weights", "opt", "config") if row[k] is not None]
    return ", ".join(parts)


def unit(rows: list[Row]) -> str:
    """What a target's cells are timed in: instructions (QEMU -icount), cycles (a board), else us."""
    for key in ("instructions", "cycles"):
        if any(r[key] is not None for r in rows):
            return key
    return "us"


def figure(row: Row, key: str) -> float | None:
    if key == "us":
        return None if row["seconds"] is None else row["seconds"] * 1e6
    return row[key]


def _series(rows: list[Row], key: str, size: str) -> Series:
    ok = [r for r in rows if r["error"] is None and figure(r, key) is not None]
    points = [(float(r[size]), float(figure(r, key) or 0)) for r in ok]
    return Series(points, [label(r) for r in ok], front(points))


def target_section(target: str, rows: list[Row]) -> str:
    key = unit(rows)
    charts = []
    for size in ("flash_bytes", "ram_bytes"):
        series, memory = _series(rows, key, size), size.removesuffix("_bytes")
        best = "".join(f"<li>{escape(series.labels[i])}: {series.points[i][0]:,.0f} B, "
                       f"{series.points[i][1]:,.{3 if key == 'us' else 0}f} {key}</li>" for i in series.front)
        svg = scatter(series, f"{memory} (bytes)", key, f"{target}: {key} against {memory}")
        charts.append(f"<div class='chart'>{svg}<p>Pareto front, {key} against {memory}:</p>"
                      f"<ul class='front' data-memory='{memory}'>{best}</ul></div>")
    failed = sum(r["error"] is not None for r in rows)
    return (f"<section class='target' data-target='{escape(target)}'><h2>{escape(target)}</h2>"
            f"<p>{len(rows) - failed} cells measured, {failed} failed; the Pareto front (no cell both "
            f"smaller and faster) in red.</p><div class='charts'>{''.join(charts)}</div></section>")


def _cell(value: Any) -> str:
    if value is None:
        return "<td></td>"
    if isinstance(value, float):
        return f"<td class='n'>{value:.4g}</td>"
    if isinstance(value, int):
        return f"<td class='n'>{value}</td>"
    return f"<td>{escape(str(value))}</td>"


def table(rows: list[Row], keys: tuple[str, ...], css: str = "") -> str:
    head = "".join(f"<th>{escape(k)}</th>" for k in keys)
    body = "".join(f"<tr class='{'failed' if r['error'] else 'ok'}'>{''.join(_cell(r[k]) for k in keys)}</tr>"
                   for r in rows)
    return f"<table class='{css}'><tr>{head}</tr>{body}</table>"


def html_page(doc: dict[str, Any]) -> str:
    rows: list[Row] = doc["rows"]
    model = doc["model"]
    targets = list(dict.fromkeys(r["target"] for r in rows))
    failed = [r for r in rows if r["error"] is not None]
    figures = ("target", *AXES, "instructions", "cycles", "flash_bytes", "ram_bytes", "max_diff_lsb")
    sections = "".join(target_section(t, [r for r in rows if r["target"] == t]) for t in targets)
    failures = (f"<h2>Failed cells</h2>{table(failed, ('target', *AXES, 'error'), 'failed')}" if failed
                else "<h2>Failed cells</h2><p>None.</p>")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>utvm sweep: {escape(model['name'])}</title><style>{STYLE}</style></head><body>"
            f"<h1>utvm sweep: {escape(model['name'])}</h1>"
            f"<p>{escape(model['format'])} model, sha256 {escape(model['sha256'][:16])}; every cell checked "
            f"against {escape(model.get('reference') or 'its own runtime')} on {model.get('inputs')} seeded "
            f"inputs (max_diff_lsb: the worst output element, in the output's LSB).</p>"
            f"{sections}{failures}<h2>Every cell</h2>{table(rows, figures, 'rows')}</body></html>\n")


def text(doc: dict[str, Any]) -> list[str]:
    """The sweep as a plain table, one line per cell."""
    rows: list[Row] = doc["rows"]
    keys = ("target", *AXES, "instructions", "cycles", "seconds", "flash_bytes", "ram_bytes", "max_diff_lsb")
    shown = [k for k in keys if any(r[k] is not None for r in rows) or k == "target"]
    cells = [[("" if r[k] is None else f"{r[k]:g}" if isinstance(r[k], float) else str(r[k])) for k in shown]
             for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(shown)]
    lines = [f"utvm sweep of {doc['model']['name']} ({len(rows)} cells)",
             "  ".join(k.ljust(w) for k, w in zip(shown, widths, strict=True))]
    for r, c in zip(rows, cells, strict=True):
        line = "  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True))
        lines.append(line + (f"  FAILED {r['error']}" if r["error"] else ""))
    return lines
