"""A night's reports in --report-dir: junit-<board>.xml, summary.json and index.html."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

from harness.testing.report import OUTCOMES, Outcome, RunResults, TestResult
from utvm_ci.results import fuzz_page, models_page, page
from utvm_ci.results.flaky import Discrepancy, QuarantineChanges, flip_count, pass_rate
from utvm_ci.results.history import History, Result

if TYPE_CHECKING:
    from utvm_ci.night.runner import Night


def write(out: Path, night: Night, history: History, quarantined: set[tuple[str, str]],
          changes: QuarantineChanges, discrepancies: list[Discrepancy], verdict: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    figures = {(r.board, r.test): r.figures for r in night.board_results()}  # the history keeps a few
    results = [replace(r, figures=figures.get((r.board, r.test), {})) for r in history.results(night.run_id)]
    _junit(out, night, results, quarantined)
    models = models_page.rows(history, night.run_id)
    fuzz_history = history.fuzz_figures()
    fuzz = fuzz_page.rows(fuzz_history, night.run_id)
    summary = _summary(night, results, quarantined, changes, discrepancies, verdict) | {"models": models,
                                                                                         "fuzz": fuzz}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    html = page.page(summary, results, _trends(history), _flaky(history), history.firmware_sizes(),
                     _health_history(history), models_page.section(models, history.model_figures())
                     + fuzz_page.section(fuzz, fuzz_history))
    (out / "index.html").write_text(html)
    (out / "night.log").write_text("\n".join(night.log_lines) + "\n")
    return out


def _junit(out: Path, night: Night, results: list[Result], quarantined: set[tuple[str, str]]) -> None:
    for slot in night.slots:
        run = RunResults()
        name = slot.board.name
        run.facts[name] = {**slot.facts, "board": name, "board_target": slot.board.target,
                           "health": slot.health, "run_id": night.run_id}
        for r in results:
            if r.board == name:
                message = r.message + (" [quarantined]" if (r.test, r.target) in quarantined else "")
                run.tests[r.test] = TestResult(r.test, name, r.outcome, r.duration, message, "", r.retries,
                                               r.error_class, dict(r.figures))
        run.junit(name, suite=f"utvm-hil[{night.run_id}]").write(out / f"junit-{name}.xml", encoding="utf-8",
                                                                  xml_declaration=True)


def _summary(night: Night, results: list[Result], quarantined: set[tuple[str, str]],
             changes: QuarantineChanges, discrepancies: list[Discrepancy], verdict: str) -> dict:
    boards = {}
    for slot in night.slots:
        counts = Counter(r.outcome for r in results if r.board == slot.board.name)
        boards[slot.board.name] = {
            "target": slot.board.target, "health": slot.health, "health_message": slot.message,
            "firmware_bytes": slot.firmware_bytes, **{o: counts[o] for o in OUTCOMES},
            "quarantined_failures": sum(1 for r in results if r.board == slot.board.name
                                        and r.outcome == Outcome.FAILED
                                        and (r.test, r.target) in quarantined)}
    assert night.inventory is not None
    return {
        "run_id": night.run_id, "lab": night.inventory.lab, "verdict": verdict, "boards": boards,
        "out_of_rotation": [s.board.name for s in night.slots if s.health == "out_of_rotation"],
        "target_errors": night.target_errors,
        "quarantined": sorted(f"{t} @ {g}" for t, g in quarantined),
        "quarantine_changes": asdict(changes),
        "discrepancies": [asdict(d) for d in discrepancies],
        "references": dict(Counter(f"{r.board}:{r.outcome}" for r in night.references)),
        "tests": [asdict(r) | {"quarantined": (r.test, r.target) in quarantined} for r in results],
    }


def _trends(history: History) -> list[tuple[str, dict[str, float]]]:
    """Per night: pass rate overall ("all") and per board."""
    out = []
    for run in history.runs(30):
        results = history.results(run.run_id)
        rates = {"all": pass_rate([r.outcome for r in results])}
        for board in sorted({r.board for r in results}):
            rates[board] = pass_rate([r.outcome for r in results if r.board == board])
        out.append((run.run_id, {k: v for k, v in rates.items() if v is not None}))
    return out


def _flaky(history: History, window: int = 10) -> list[dict]:
    rows = []
    quarantine = {(q.test, q.target): q for q in history.quarantined()}
    for test, target in history.tests():
        seen = history.outcomes(test, target, limit=window)
        outcomes = [o for _, _, o in seen]
        flips = flip_count(outcomes)
        q = quarantine.get((test, target))
        if not flips and q is None:  # infrastructure retries are the boards' trouble, shown per board
            continue
        per_board = {}
        for board in sorted({b for _, b, _ in seen}):
            per_board[board] = pass_rate([o for _, b, o in seen if b == board])
        rows.append({"test": test, "target": target, "flips": flips, "nights": len(outcomes),
                     "retried": outcomes.count(Outcome.PASSED_ON_RETRY), "outcomes": outcomes,
                     "pass_rate": per_board, "quarantined_until": q.expires if q else None,
                     "reason": q.reason if q else ""})
    return sorted(rows, key=lambda r: (r["quarantined_until"] is None, -r["flips"], r["test"]))


def _health_history(history: History) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for run in history.runs(30):
        for board, _, health, message, _ in history.boards(run.run_id):
            out.setdefault(board, []).append((health, f"{run.run_id}: {message}"))
    return out
