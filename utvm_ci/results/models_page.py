"""The model tier on the report page: per board and model, latency over the nights (cycles per
inference from the board's timer), flash and RAM, and a regression flag by utvm_ci.results.trend's
rule (which the page states)."""

from __future__ import annotations

from html import escape
from typing import Any

from utvm_ci.results import trend
from utvm_ci.results.history import History, ModelFigures
from utvm_ci.results.page import chart

TRENDED = ("cycles", "flash_bytes", "ram_bytes")  # the figures the regression rule watches
# How latency is charted: the first figure a model's boards have (cycles; seconds on a board with
# no known clock), as (figure, scale, unit).
LATENCY = (("cycles", 1e-6, " M"), ("seconds", 1e3, " ms"))


def rows(history: History, run_id: str, nights: int = 30) -> list[dict[str, Any]]:
    """Per board and model tonight: its figures, and which trended figures are regressions against
    the nights before (earlier nights of the same board and model)."""
    figures = [f for f in history.model_figures(nights) if f.kind == "board"]
    out = []
    for tonight in (f for f in figures if f.run_id == run_id):
        earlier = [f for f in figures if (f.board, f.model) == (tonight.board, tonight.model)
                   and f.started < tonight.started]
        verdicts = {}
        for name in TRENDED:
            value = getattr(tonight, name)
            past = [getattr(f, name) for f in earlier if getattr(f, name) is not None]
            if value is not None:
                verdicts[name] = trend.regression(past, value)
        out.append({"board": tonight.board, "target": tonight.target, "model": tonight.model,
                    **{k: getattr(tonight, k) for k in ("cycles", "instructions", "seconds", "flash_bytes",
                                                        "ram_bytes", "max_diff_lsb", "outputs_sha256")},
                    "regressions": [n for n, v in verdicts.items() if v.flagged],
                    "rule": {n: v.describe() for n, v in verdicts.items()}})
    return out


def section(tonight: list[dict[str, Any]], history: list[ModelFigures]) -> str:
    if not tonight and not history:
        return '<p class="meta">no model tier tonight</p>'
    parts = [f'<p class="meta">Regression rule: {escape(trend.RULE)}.</p>', _table(tonight)]
    labels = sorted({f.run_id for f in history})
    for model in sorted({f.model for f in history}):
        mine = [f for f in history if f.model == model and f.kind == "board"]
        figure, scale, unit = next(((n, s, u) for n, s, u in LATENCY if any(getattr(f, n) for f in mine)),
                                   LATENCY[0])
        series: dict[str, list[float | None]] = {}
        for board in sorted({f.board for f in mine}):
            points = {f.run_id: getattr(f, figure) for f in mine if f.board == board}
            series[board] = [points[r] * scale if points.get(r) is not None else None for r in labels]
        parts.append(f"<h3>{escape(model)}: latency ({escape(figure)} per inference) over the nights</h3>"
                     + chart(series, labels, unit, lo=0))
    return "".join(parts)


def _table(tonight: list[dict[str, Any]]) -> str:
    if not tonight:
        return '<p class="meta">no model ran on a board tonight</p>'
    out = []
    for r in sorted(tonight, key=lambda r: (r["model"], r["board"])):
        flags = "".join(f'<span class="badge failed" title="{escape(r["rule"][n])}">{escape(n)} regressed'
                        "</span> " for n in r["regressions"]) or '<span class="meta">within the noise</span>'
        cells = [_m(r["cycles"]), _ms(r["seconds"]), _n(r["flash_bytes"]), _n(r["ram_bytes"]),
                 "" if r["max_diff_lsb"] is None else f"{r['max_diff_lsb']:g}"]
        out.append(f"<tr><td><b>{escape(r['model'])}</b></td><td>{escape(r['board'])}</td>"
                   f"<td>{escape(r['target'])}</td>" + "".join(f"<td>{c}</td>" for c in cells)
                   + f"<td>{flags}</td></tr>")
    return ("<table><tr><th>model</th><th>board</th><th>target</th><th>M cycles</th><th>ms</th>"
            "<th>flash B</th><th>RAM B</th><th>max LSB</th><th>regression</th></tr>"
            + "".join(out) + "</table>")


def _m(value: float | None) -> str:
    return "" if value is None else f"{value / 1e6:.3f}"


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value * 1e3:.3f}"


def _n(value: int | None) -> str:
    return "" if value is None else f"{value:,}"
