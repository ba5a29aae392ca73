"""The fuzz tier on the report page and in summary.json: per board and kind tonight, the cases run,
agreements, disagreements (each one fails its cell: a product failure), refusals, seconds and cases
per operator family, with the seed that replays them; and the nights before, summed per night."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from utvm_ci.results.history import FuzzFigures


def rows(figures: list[FuzzFigures], run_id: str) -> list[dict[str, Any]]:
    """Tonight's fuzz figures, one row per board (or reference) and kind."""
    out = []
    for f in (f for f in figures if f.run_id == run_id):
        rate = 60 * (f.cases or 0) / f.seconds if f.seconds else None
        out.append({"board": f.board, "target": f.target, "backend": f.board_kind, "kind": f.kind,
                    "seed": f.seed, "cases": f.cases, "matched": f.matched, "disagreements": f.disagreements,
                    "refused": f.refused, "seconds": f.seconds,
                    "cases_per_minute": None if rate is None else round(rate, 1),
                    "families": json.loads(f.families or "{}")})
    return out


def section(tonight: list[dict[str, Any]], history: list[FuzzFigures]) -> str:
    if not tonight and not history:
        return '<p class="meta">no fuzz tier tonight</p>'
    return "<h3>Fuzz tier (harness.fuzz against TFLite Micro and onnxruntime)</h3>" + _table(tonight) \
        + _nights(history)


def _table(tonight: list[dict[str, Any]]) -> str:
    if not tonight:
        return '<p class="meta">no fuzz case ran tonight</p>'
    out = []
    for r in sorted(tonight, key=lambda r: (r["backend"], r["board"], r["kind"])):
        bad = r["disagreements"] or 0
        verdict = (f'<span class="badge failed">{bad} disagree</span>' if bad
                   else '<span class="badge passed">0 disagree</span>')
        families = ", ".join(f"{escape(k)} {v}" for k, v in sorted(r["families"].items()))
        cells = [escape(r["board"]), escape(r["target"]), escape(r["kind"]), str(r["seed"]), str(r["cases"]),
                 str(r["matched"]), verdict, str(r["refused"]), f"{r['seconds'] or 0:.0f}",
                 "" if r["cases_per_minute"] is None else f"{r['cases_per_minute']:g}",
                 f'<span class="meta">{families}</span>']
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return ("<table><tr><th>board</th><th>target</th><th>kind</th><th>seed</th><th>cases</th><th>agree</th>"
            "<th>disagree</th><th>refused</th><th>s</th><th>cases/min</th><th>cases per operator family</th>"
            "</tr>" + "".join(out) + "</table>")


def _nights(history: list[FuzzFigures]) -> str:
    """Cases and disagreements on the boards, per night."""
    nights: dict[str, list[int]] = {}
    for f in history:
        if f.board_kind == "board":
            total = nights.setdefault(f.run_id, [0, 0])
            total[0] += f.cases or 0
            total[1] += f.disagreements or 0
    if not nights:
        return ""
    cells = "".join(f"<tr><td>{escape(run)}</td><td>{cases}</td><td>{bad}</td></tr>"
                    for run, (cases, bad) in nights.items())
    return ("<table><tr><th>night</th><th>cases on the boards</th><th>disagreements</th></tr>"
            + cells + "</table>")
