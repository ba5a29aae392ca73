"""index.html: one static page (no scripts, no network) for a night and the nights before it."""

from __future__ import annotations

import time
from html import escape

from harness.testing.report import Outcome
from utvm_ci.results.history import Result

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;background:#f6f7f9}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}h3{font-size:14px;margin:16px 0 4px}
.meta{color:#5b6477}.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:12px 16px;
margin-bottom:12px;overflow-x:auto}
table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #eceef2;text-align:left}
th{font-weight:600;background:#fafbfc;position:sticky;top:0}td{white-space:nowrap}
td.wrap{white-space:normal;max-width:520px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600}
.passed,.healthy{background:#2e9e5b}.failed{background:#d64545}.error,.out_of_rotation{background:#e08a1e}
.infrastructure{background:#e08a1e}.skipped{background:#b8bfcc}.passed_on_retry{background:#7cc49a}
.busy{background:#8a6fd1}.reference{background:#5b8def}
.cell{display:inline-block;width:22px;height:18px;border-radius:3px;color:#fff;text-align:center;
font-size:12px;line-height:18px}.dot{display:inline-block;width:10px;height:10px;border-radius:2px;
margin-right:2px}.grid td{padding:1px 4px}.grid td:first-child{font-family:monospace;font-size:12px}
.q{background:#fff4d6;border:1px solid #e6c35c;border-radius:4px;padding:0 4px;font-size:11px}
.legend span{margin-right:12px}svg text{font-size:11px;fill:#5b6477}
"""
SYMBOL = {Outcome.PASSED: "✓", Outcome.FAILED: "✗", Outcome.ERROR: "E", Outcome.SKIPPED: "-",
          Outcome.PASSED_ON_RETRY: "↻"}
COLORS = ["#2e6be6", "#d64545", "#2e9e5b", "#e08a1e", "#8a6fd1", "#1aa3a3", "#b05a2a", "#6b7280"]


def _cell(outcome: str, title: str) -> str:
    return f'<span class="cell {outcome}" title="{escape(title)}">{SYMBOL.get(outcome, "?")}</span>'


def _short(test: str, limit: int = 96) -> str:
    """A test's name for a table cell: the file's stem and the name, long parameters cut."""
    name = test.removeprefix("acceptance_tests/")
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _last_line(text: str) -> str:
    """The line of a tool's error that says what went wrong (the last one)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _date(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def chart(series: dict[str, list[float | None]], labels: list[str], unit: str, lo: float | None = None,
          hi: float | None = None, width: int = 640, height: int = 200) -> str:
    """A line chart as inline SVG: one line per series over the same x labels."""
    values = [v for s in series.values() for v in s if v is not None]
    if not values or not labels:
        return '<p class="meta">no data yet</p>'
    lo = min(values) if lo is None else lo
    hi = max(values) if hi is None else hi
    if hi <= lo:  # a flat line sits in the middle of a band 10% wide
        pad = abs(lo) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    left, right, top, bottom = 76, 12, 10, 24
    w, h = width - left - right, height - top - bottom
    n = max(len(labels) - 1, 1)

    def xy(i: int, v: float) -> str:
        return f"{left + w * i / n:.1f},{top + h * (1 - (v - lo) / (hi - lo)):.1f}"

    parts = [f'<svg width="{width}" height="{height + 18 * ((len(series) + 3) // 4)}" role="img">',
             f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="#fff" stroke="#dde1e8"/>']
    for frac in (0, 0.5, 1):
        v = lo + (hi - lo) * frac
        y = top + h * (1 - frac)
        label = f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label}{unit}</text>')
    parts.append(f'<text x="{left}" y="{height - 6}">{escape(labels[0])}</text>')
    parts.append(f'<text x="{left + w}" y="{height - 6}" text-anchor="end">{escape(labels[-1])}</text>')
    for k, (name, points) in enumerate(series.items()):
        color = COLORS[k % len(COLORS)]
        pts = [xy(i, v) for i, v in enumerate(points) if v is not None]
        if len(pts) > 1:
            line = " ".join(pts)
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{line}"/>')
        for p in pts:
            x, y = p.split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>')
        lx, ly = left + (k % 4) * 150, height + 12 + 18 * (k // 4)
        parts.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{color}"/>'
                     f'<text x="{lx + 14}" y="{ly}">{escape(name)}</text>')
    return "".join(parts) + "</svg>"


def _boards(summary: dict, health: dict[str, list[tuple[str, str]]]) -> str:
    rows = []
    for name, b in summary["boards"].items():
        dots = "".join(f'<span class="dot {h}" title="{escape(t)}"></span>' for h, t in health.get(name, []))
        rows.append(
            f"<tr><td><b>{escape(name)}</b></td><td>{escape(b['target'])}</td>"
            f'<td><span class="badge {b["health"]}">{escape(b["health"].replace("_", " "))}</span></td>'
            f"<td>{b['passed']}</td><td>{b['failed']}</td><td>{b['error']}</td><td>{b['skipped']}</td>"
            f"<td>{b['passed_on_retry']}</td><td>{b['firmware_bytes'] or ''}</td><td>{dots}</td>"
            f'<td class="meta wrap" title="{escape(b["health_message"])}">'
            f"{escape(_last_line(b['health_message'])[:200])}</td></tr>")
    return ("<table><tr><th>board</th><th>target</th><th>health</th><th>passed</th><th>failed</th>"
            "<th>errors</th><th>skipped</th><th>passed on retry</th><th>firmware B</th>"
            "<th>health, last nights</th><th>health check</th></tr>" + "".join(rows) + "</table>")


def _result_cell(r: Result | None) -> str:
    if r is None:
        return ""
    return _cell(r.outcome, f"{r.board}: {r.outcome} {r.duration:.2f} s retries={r.retries} {r.message}")


def _test_cell(test: str) -> str:
    return f'<td title="{escape(test)}">{escape(_short(test))}'


def _grid(summary: dict, results: list[Result]) -> str:
    boards = list(summary["boards"])
    quarantined = {r["test"] for r in summary["tests"] if r["quarantined"]}
    cells: dict[str, dict[str, Result]] = {}
    for r in results:
        cells.setdefault(r.test, {})[r.board] = r
    head = "".join(f"<th>{escape(b)}</th>" for b in boards)
    rows = []
    for test in sorted(cells):
        tag = ' <span class="q">quarantined</span>' if test in quarantined else ""
        tds = "".join(f"<td>{_result_cell(cells[test].get(b))}</td>" for b in boards)
        rows.append(f"<tr>{_test_cell(test)}{tag}</td>{tds}</tr>")
    legend = "".join(f"<span>{_cell(o, o)} {o.replace('_', ' ')}</span>" for o in SYMBOL)
    return (f'<p class="legend">{legend}</p><table class="grid"><tr><th>test</th>{head}</tr>'
            + "".join(rows) + "</table>")


def _flaky(rows: list[dict]) -> str:
    if not rows:
        return '<p class="meta">no test flipped between pass and fail in the window</p>'
    out = []
    for r in rows:
        strip = "".join(f'<span class="dot {o}" title="{o}"></span>' for o in r["outcomes"])
        rates = ", ".join(f"{escape(b)} {v:.0%}" for b, v in r["pass_rate"].items() if v is not None)
        until = (f'<span class="q">until {_date(r["quarantined_until"])}</span> {escape(r["reason"])}'
                 if r["quarantined_until"] else "")
        out.append(f"<tr>{_test_cell(r['test'])}</td><td>{escape(r['target'])}</td><td>{strip}</td>"
                   f"<td>{r['flips']}</td><td>{r['retried']}</td><td>{rates}</td><td>{until}</td></tr>")
    return ("<table><tr><th>test</th><th>target</th><th>last nights</th><th>flips</th>"
            "<th>passed on retry</th><th>pass rate per board</th><th>quarantine</th></tr>"
            + "".join(out) + "</table>")


def _discrepancies(items: list[dict]) -> str:
    if not items:
        return '<p class="meta">boards and reference backends agree</p>'
    return ("<table><tr><th>test</th><th>finding</th><th>boards</th><th>references</th><th>meaning</th></tr>"
            + "".join(f"<tr>{_test_cell(d['test'])}</td><td><b>{escape(d['kind'])}</b></td>"
                      f"<td>{escape(', '.join(d['boards']))}</td>"
                      f"<td>{escape(', '.join(d['references']))}</td>"
                      f'<td class="wrap">{escape(d["meaning"])}</td></tr>' for d in items) + "</table>")


def page(summary: dict, results: list[Result], trends: list[tuple[str, dict[str, float]]],
         flaky: list[dict], sizes: dict[str, list[tuple[str, int]]],
         health: dict[str, list[tuple[str, str]]], models: str = "") -> str:
    """The page; `models` is the model tier's section (utvm_ci.results.models_page), if any."""
    labels = [run_id for run_id, _ in trends]
    names = sorted({k for _, rates in trends for k in rates}, key=lambda k: (k != "all", k))
    rate_series = {k: [rates.get(k) * 100 if k in rates else None for _, rates in trends] for k in names}
    size_labels = sorted({r for points in sizes.values() for r, _ in points})
    size_series = {t: [dict(points).get(r) for r in size_labels] for t, points in sizes.items()}
    totals = {o: sum(b[o] for b in summary["boards"].values()) for o in Outcome}
    verdict = summary["verdict"]
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>utvm nightly {escape(summary['lab'])} {escape(summary['run_id'])}</title>
<style>{CSS}</style></head><body>
<h1>utvm nightly — {escape(summary['lab'])} <span class="badge {verdict}">{escape(verdict)}</span></h1>
<p class="meta">run {escape(summary['run_id'])} · {len(summary['boards'])} boards ·
{' · '.join(f"{v} {k.replace('_', ' ')}" for k, v in totals.items())} ·
out of rotation: {escape(', '.join(summary['out_of_rotation']) or 'none')}</p>
<h2>Board health</h2><div class="card">{_boards(summary, health)}</div>
<h2>Boards and reference backends</h2><div class="card">{_discrepancies(summary['discrepancies'])}</div>
{f'<h2>Models on the boards</h2><div class="card">{models}</div>' if models else ""}
<h2>Flaky and quarantined tests</h2><div class="card">{_flaky(flaky)}</div>
<h2>Pass rate, last nights</h2><div class="card">{chart(rate_series, labels, "%", 0, 100)}</div>
<h2>Firmware size (runtime image, flash bytes)</h2>
<div class="card">{chart(size_series, size_labels, " B")}</div>
<h2>Tonight: board by test</h2><div class="card">{_grid(summary, results)}</div>
</body></html>
"""
