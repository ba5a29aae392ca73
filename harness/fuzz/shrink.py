"""Shrinking a disagreement to a smaller one that still disagrees: each operator of a chain alone,
then the same seed and index at smaller size caps (and the following indices) restricted to the
failing case's operators; the smallest case (fewest operators, then fewest input and output elements)
that still disagrees wins. Each try is one case alone in one image."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from harness.fuzz.cases import KINDS, Case, make_case
from harness.fuzz.runner import Disagreement, Report, run_batch, triage
from harness.models.compile.model import Scheduler
from harness.targets import Target


def _weight(case: Case) -> tuple[int, int]:
    elements = sum(x.size for x in case.inputs) + sum(e.size for e in case.expected)
    return len(case.ops.split(">")), elements


def disagrees(case: Case, target: Target, workdir: Path,
              scheduler: Scheduler | None = None) -> Disagreement | None:
    report = Report(target.name)
    if triage(case, report):
        run_batch([case], target, workdir, report, scheduler)
    return report.disagreements[0] if report.disagreements else None


def _single_ops(case: Case) -> list[Case]:
    kind = KINDS[case.kind]
    parts = getattr(kind, "parts", None)
    if parts is None:
        return []
    out = []
    for j, model in enumerate(parts(case.model)):
        rng = np.random.default_rng([case.seed, case.index, case.size, 2, j])
        out.append(replace(case, model=model, inputs=kind.inputs(model, rng), expected=[]))
    return out


def _smaller(case: Case, tries: int = 3) -> list[Case]:
    ops = tuple(dict.fromkeys(case.ops.split(">")))
    out = []
    for size in range(1, case.size):
        for index in range(case.index, case.index + tries):
            out.append(make_case(case.kind, case.seed, index, size, ops))
    return out


def shrink(found: Disagreement, target: Target, workdir: Path, budget: int = 24,
           check: Callable[[Case, Target, Path], Disagreement | None] = disagrees) -> Disagreement:
    """The smallest disagreeing case found within `budget` tries."""
    best = found
    spent = 0
    for phase in (_single_ops, _smaller):
        for candidate in phase(best.case):
            if spent >= budget:
                return best
            spent += 1
            result = check(candidate, target, workdir)
            if result is not None and _weight(result.case) < _weight(best.case):
                best = result
    return best
