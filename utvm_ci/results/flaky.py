"""Flakiness as data: pass rates, flips, automatic quarantine, and backends compared.

A test *flips* when its outcome on a target's boards changes between a pass and
a failure from one night to the next (errors are the infrastructure's and
skips say nothing, so neither counts). A test that flips `flips` times within
its last `window` nights is quarantined for `days`: it still runs and is
reported, but its failures do not fail the night. At expiry the quarantine is
renewed if the test flipped again while quarantined, and lifted otherwise.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

from harness.testing.report import PASSES, Outcome
from utvm_ci.results.history import History, Result

DAY = 86400.0


@dataclass(frozen=True)
class Policy:
    window: int = 10
    flips: int = 3
    days: float = 7.0


def flip_count(outcomes: list[str]) -> int:
    verdicts = [o in PASSES for o in outcomes if o in (*PASSES, Outcome.FAILED)]
    return sum(a != b for a, b in itertools.pairwise(verdicts))


def pass_rate(outcomes: list[str]) -> float | None:
    """Passes over the nights the test ran (skips left out); None if it never ran."""
    ran = [o for o in outcomes if o != Outcome.SKIPPED]
    return sum(o in PASSES for o in ran) / len(ran) if ran else None


@dataclass
class QuarantineChanges:
    added: list[tuple[str, str]] = field(default_factory=list)
    renewed: list[tuple[str, str]] = field(default_factory=list)
    lifted: list[tuple[str, str]] = field(default_factory=list)


def update_quarantine(history: History, policy: Policy, now: float) -> QuarantineChanges:
    """Quarantine the tests that flip too often; renew or lift expired entries."""
    changes = QuarantineChanges()
    in_force = {(q.test, q.target): q for q in history.quarantined()}
    for test, target in history.tests():
        key = (test, target)
        entry = in_force.get(key)
        if entry is None:
            recent = [o for _, _, o in history.outcomes(test, target, limit=policy.window)]
            n = flip_count(recent)
            if n >= policy.flips:
                history.quarantine(test, target, now, now + policy.days * DAY,
                                   f"{n} flips in its last {len(recent)} nights")
                changes.added.append(key)
        elif entry.expires <= now:
            since = [o for _, _, o in history.outcomes(test, target, since=entry.since)]
            history.lift(test, target, now)
            n = flip_count(since)
            if n:
                history.quarantine(test, target, now, now + policy.days * DAY,
                                   f"still flaky: {n} flips while quarantined")
                changes.renewed.append(key)
            else:
                changes.lifted.append(key)
    return changes


@dataclass(frozen=True)
class Discrepancy:
    test: str
    kind: str  # "board-only failure", "board-only pass" or "model outputs differ"
    boards: tuple[str, ...]
    references: tuple[str, ...]
    meaning: str


def compare_backends(boards: list[Result], references: list[Result]) -> list[Discrepancy]:
    """Tests that pass on every reference backend (host, QEMU) but fail on a board, and the reverse;
    and model-tier tests whose outputs on a board differ from every reference backend's."""
    on_boards: dict[str, list[Result]] = defaultdict(list)
    on_refs: dict[str, list[Result]] = defaultdict(list)
    for r in boards:
        on_boards[r.test].append(r)
    for r in references:
        on_refs[r.test].append(r)
    found = []
    for test in sorted(on_boards.keys() & on_refs.keys()):
        b = [r for r in on_boards[test] if r.outcome != Outcome.SKIPPED]
        ref = [r for r in on_refs[test] if r.outcome != Outcome.SKIPPED]
        if not b or not ref:
            continue
        ref_names = tuple(sorted({r.board for r in ref}))
        failed_boards = tuple(sorted(r.board for r in b if r.outcome == Outcome.FAILED))
        if failed_boards and all(r.outcome in PASSES for r in ref):
            found.append(Discrepancy(test, "board-only failure", failed_boards, ref_names,
                                     f"passes on {', '.join(ref_names)}: a port or hardware problem, "
                                     "not the runtime"))
        ref_failed = tuple(sorted(r.board for r in ref if r.outcome == Outcome.FAILED))
        if ref_failed and all(r.outcome in PASSES for r in b):
            found.append(Discrepancy(test, "board-only pass", tuple(sorted(r.board for r in b)), ref_failed,
                                     "fails on a reference backend but passes on boards: "
                                     "a host or emulator problem, or a test that depends on it"))
        found += _model_outputs(test, on_boards[test], on_refs[test])
    return found


OUTPUTS = "outputs_sha256"  # a model-tier figure: the digest of the device's outputs on the seeded inputs


def _model_outputs(test: str, boards: list[Result], references: list[Result]) -> list[Discrepancy]:
    """Boards whose outputs (on the same seeded inputs) match none of the references' outputs."""
    measured = [r for r in references if r.figures.get(OUTPUTS)]
    expected = {r.figures[OUTPUTS] for r in measured}
    odd = tuple(sorted(r.board for r in boards if r.figures.get(OUTPUTS, "") not in ("", *expected)))
    if not expected or not odd:
        return []
    model = next(str(r.figures.get("model", test)) for r in boards)
    refs = tuple(sorted({r.board for r in measured}))
    return [Discrepancy(test, "model outputs differ", odd, refs,
                        f"{model} gives other outputs on {', '.join(odd)} than on {', '.join(refs)} for "
                        "the same inputs: a port, compiler or hardware problem (each may still be within "
                        "1 LSB of the model's own runtime)")]
